'use strict';
// Update costs of fastprom against prom-client, measured in the same run:
// cached child inc(), inc({2 labels}), labels(a, b).inc(), observe() on a
// histogram, startTimer()+end(). Median of ROUNDS rounds of N calls each.
// Prints one line per operation, and the JSON of the figures last.

const fs = require('fs');
const os = require('os');
const path = require('path');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fastprom-bench-'));
process.env.FASTPROM_PATH = path.join(tmp, 'segment');
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

const fastprom = require('..');
const promClient = require('prom-client');

const N = Number(process.env.BENCH_N || 1000000);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 7);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// [best, median] ns per call of body(i) over the rounds.
function measure(body) {
  for (let i = 0; i < N / 10; i++) body(i); // warm-up: JIT, caches, first-touch of cells
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) body(i);
    rounds.push(Number(process.hrtime.bigint() - t0) / N);
  }
  return [Math.min(...rounds), median(rounds)];
}

function cases(lib, registers) {
  const c = new lib.Counter({ name: 'bench_requests_total', help: 'h', labelNames: ['method', 'route'], registers });
  const child = c.labels('GET', '/users/:id');
  const h = new lib.Histogram({ name: 'bench_latency_seconds', help: 'h', registers,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
  const labels = { method: 'GET', route: '/users/:id' };
  return {
    'cached child inc()': () => child.inc(),
    'inc({2 labels})': () => c.inc(labels),
    'labels(a, b).inc()': () => c.labels('GET', '/users/:id').inc(),
    'observe(v)': i => h.observe((i & 1023) / 1000),
    'startTimer()+end()': () => h.startTimer()(),
  };
}

const ours = cases(fastprom, [new fastprom.Registry()]);
const theirs = cases(promClient, [new promClient.Registry()]);
const results = {};
const f = x => x.toFixed(1).padStart(7);
console.log(`${''.padEnd(22)} fastprom best/median ns   prom-client best/median ns   prom-client/fastprom (medians)`);
for (const name of Object.keys(ours)) {
  const [a, am] = measure(ours[name]);
  const [b, bm] = measure(theirs[name]);
  results[name] = { fastprom_best_ns: +a.toFixed(1), fastprom_median_ns: +am.toFixed(1), prom_client_best_ns: +b.toFixed(1),
    prom_client_median_ns: +bm.toFixed(1), speedup: +(bm / am).toFixed(2) };
  console.log(`${name.padEnd(22)} ${f(a)} / ${f(am)}          ${f(b)} / ${f(bm)}            ${(bm / am).toFixed(2)}x`);
}
console.log(JSON.stringify({ n: N, rounds: ROUNDS, node: process.version, results }));
