'use strict';
// The multi-process scrape: node:cluster with WORKERS workers, each recording
// SERIES label sets in a counter and a 7-bucket histogram. prom-client's
// AggregatorRegistry.clusterMetrics() asks every worker over IPC for its
// registry and merges; with fastprom the primary renders the shared segment
// (what fastprom-fcgi does on /metrics). Both measured in this run, median of
// SCRAPES scrapes. Prints one line per library and the JSON of the figures.

const cluster = require('node:cluster');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const WORKERS = Number(process.env.WORKERS || 4);
const SERIES = Number(process.env.SERIES || 1000);
const SCRAPES = Number(process.env.SCRAPES || 15);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function record(lib) {
  const c = new lib.Counter({ name: 'bench_requests_total', help: 'h', labelNames: ['method', 'route'] });
  const h = new lib.Histogram({ name: 'bench_latency_seconds', help: 'h', labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5] });
  for (let i = 0; i < SERIES; i++) {
    const labels = { method: i % 2 ? 'GET' : 'POST', route: `/route/${i}` };
    c.inc(labels, 1 + (i % 7));
    h.observe(labels, (i % 100) / 50);
  }
}

async function primary(libName) {
  const lib = require(libName === 'fastprom' ? '..' : 'prom-client');
  const agg = new lib.AggregatorRegistry();
  const ready = new Promise(resolve => {
    let n = 0;
    cluster.on('message', (w, msg) => {
      if (msg === 'recorded' && ++n === WORKERS) resolve();
    });
  });
  for (let i = 0; i < WORKERS; i++) cluster.fork({ BENCH_LIB: libName });
  await ready;
  const times = [];
  let bytes = 0;
  for (let i = 0; i < SCRAPES + 2; i++) {
    const t0 = process.hrtime.bigint();
    const text = await agg.clusterMetrics();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= 2) times.push(ms); // two warm-up scrapes
    bytes = text.length;
    if (!text.includes('bench_requests_total')) throw new Error(`${libName}: no data in the scrape`);
  }
  for (const w of Object.values(cluster.workers)) w.kill();
  return { ms: median(times), best: Math.min(...times), bytes };
}

async function main() {
  if (cluster.isWorker) {
    const lib = require(process.env.BENCH_LIB === 'fastprom' ? '..' : 'prom-client');
    if (lib.AggregatorRegistry && process.env.BENCH_LIB !== 'fastprom') new lib.AggregatorRegistry(); // answers the primary's IPC
    record(lib);
    process.send('recorded');
    return;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fastprom-bench-'));
  process.env.FASTPROM_PATH = path.join(tmp, 'segment');
  try {
    const ours = await primary('fastprom');
    cluster.removeAllListeners('message');
    const theirs = await primary('prom-client');
    const ratio = theirs.ms / ours.ms;
    console.log(`${WORKERS} workers x ${SERIES} label sets (counter + 7-bucket histogram), median of ${SCRAPES} scrapes:`);
    console.log(`  fastprom (render the shared segment): median ${ours.ms.toFixed(2)} ms, best ${ours.best.toFixed(2)} ms, ${ours.bytes} bytes`);
    console.log(`  prom-client AggregatorRegistry.clusterMetrics(): median ${theirs.ms.toFixed(2)} ms, best ${theirs.best.toFixed(2)} ms, ${theirs.bytes} bytes`);
    console.log(`  prom-client/fastprom ${ratio.toFixed(1)}x (medians)`);
    console.log(JSON.stringify({ workers: WORKERS, series: SERIES, scrapes: SCRAPES, fastprom_ms: +ours.ms.toFixed(3), fastprom_best_ms: +ours.best.toFixed(3),
      prom_client_ms: +theirs.ms.toFixed(3), speedup: +ratio.toFixed(1) }));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  process.exit(0);
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
