// A seed-001 style service written against prom-client's types, compiled
// against fastprom's index.d.ts (tsc --noEmit in test/types.test.js).
import { Counter, Gauge, Histogram, Summary, Registry, register, collectDefaultMetrics, linearBuckets,
  AggregatorRegistry, setCollectInterval, segmentInfo } from 'fastprom';

const registry = new Registry();
const received = new Counter({
  name: 'collector_messages_received_total', help: 'Messages.', labelNames: ['channel', 'symbol'] as const,
  registers: [registry],
});
received.inc({ channel: 'ticker', symbol: 'BTC_JPY' });
received.labels('ticker', 'BTC_JPY').inc(2);
received.labels({ channel: 'trade' }).inc();
// @ts-expect-error an unknown label name
received.inc({ venue: 'x' });

const latency = new Histogram({ name: 'publish_seconds', help: 'Latency.', labelNames: ['stream'], buckets: linearBuckets(0.01, 0.01, 5) });
const end = latency.startTimer({ stream: 'md:ticker' });
const seconds: number = end();
latency.observe({ stream: 'md:trade' }, seconds);
latency.zero({ stream: 'x' });

const g = new Gauge({ name: 'queue', help: 'Queue.', aggregator: 'max', collect() { this.set(1); } });
g.set(3);
g.inc();
// @ts-expect-error prom-client's aggregator 'average' has no fastprom equivalent
new Gauge({ name: 'avg', help: 'x', aggregator: 'average' });

const s = new Summary({ name: 'sizes', help: 'Sizes.', percentiles: [0.5, 0.99] });
s.observe(12);
collectDefaultMetrics({ prefix: 'app_', labels: { app: 'collector' } });
setCollectInterval(1000);
const info: { path: string; private: boolean } = segmentInfo();

async function scrape(): Promise<string> {
  const json = await registry.getMetricsAsJSON();
  const agg = new AggregatorRegistry();
  return (await register.metrics()) + (await agg.clusterMetrics()) + json.length + info.path;
}
void scrape;
