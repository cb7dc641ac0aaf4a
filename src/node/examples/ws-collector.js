'use strict';
// Seed 001's WebSocket market-data collector, instrumented with fastprom:
// messages received by channel and symbol, published to Redis streams by
// stream and symbol, errors by type, reconnects, and the publish latency
// histogram -- prom-client's API, require('fastprom') instead.
//
// The exchange and Redis are simulated (a deterministic stream), so the
// example runs anywhere:
//
//     FASTPROM_PATH=/dev/shm/fastprom node src/node/examples/ws-collector.js
//
// MESSAGES=N stops the stream after N messages (then the process idles until
// SIGTERM, so its gauges stay live) and prints what it counted as JSON on
// stdout; RATE=per-second (default 2000); SEED for another stream.

const client = require('..');

const CHANNELS = ['ticker', 'orderbook', 'trade'];
const SYMBOLS = ['BTC_JPY', 'ETH_JPY', 'XRP_JPY'];

const received = new client.Counter({
  name: 'collector_messages_received_total', help: 'Messages received from the WebSocket API.',
  labelNames: ['channel', 'symbol'],
});
const published = new client.Counter({
  name: 'collector_messages_published_total', help: 'Messages published to Redis streams.',
  labelNames: ['stream', 'symbol'],
});
const errors = new client.Counter({
  name: 'collector_errors_total', help: 'Errors by type: parse_error, publish_error, api_error.',
  labelNames: ['type'],
});
const reconnects = new client.Counter({ name: 'collector_reconnects_total', help: 'WebSocket reconnections.' });
const publishLatency = new client.Histogram({
  name: 'collector_publish_latency_seconds', help: 'Latency of message publishing.',
  labelNames: ['stream', 'symbol'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
});
const connected = new client.Gauge({ name: 'collector_connection_status', help: 'WebSocket connected (1) or not (0).' });

// A small deterministic PRNG (mulberry32): the same SEED, the same stream.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const tally = { received: 0, published: 0, errors: {}, reconnects: 0 };

function handleMessage(random) {
  const channel = CHANNELS[Math.floor(random() * CHANNELS.length)];
  const symbol = SYMBOLS[Math.floor(random() * SYMBOLS.length)];
  received.labels(channel, symbol).inc();
  tally.received++;
  const roll = random();
  if (roll < 0.01) {
    errors.inc({ type: 'parse_error' });
    tally.errors.parse_error = (tally.errors.parse_error || 0) + 1;
    return;
  }
  const stream = `md:${channel}`;
  const end = publishLatency.startTimer({ stream, symbol });
  if (roll < 0.015) {
    end();
    errors.inc({ type: 'publish_error' });
    tally.errors.publish_error = (tally.errors.publish_error || 0) + 1;
    return;
  }
  published.inc({ stream, symbol });
  end();
  tally.published++;
  if (roll > 0.999) {
    connected.set(0);
    reconnects.inc();
    tally.reconnects++;
    connected.set(1);
  }
}

function main() {
  const limit = Number(process.env.MESSAGES || 0);
  const rate = Number(process.env.RATE || 2000);
  const random = rng(Number(process.env.SEED || 1));
  connected.set(1);
  const perTick = Math.max(1, Math.round(rate / 100));
  const timer = setInterval(() => {
    for (let i = 0; i < perTick; i++) {
      if (limit && tally.received >= limit) {
        clearInterval(timer);
        process.stdout.write(JSON.stringify(tally) + '\n');
        setInterval(() => {}, 1 << 30); // idle, gauges live, until SIGTERM
        return;
      }
      handleMessage(random);
    }
  }, 10);
  process.on('SIGTERM', () => process.exit(0));
}

main();
