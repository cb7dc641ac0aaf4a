'use strict';
// Exemplars (OpenMetrics), worker_threads (each thread its own addon
// instance and writer slot), and the series limit (updates dropped with
// one warning, never an exception).

const { test } = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { Worker } = require('node:worker_threads');
const { sample } = require('./helpers');
const client = require('..');

test('exemplars: counter and histogram, shown in OpenMetrics', async () => {
  const reg = new client.Registry(client.openMetricsContentType, { private: true });
  const c = new client.Counter({ name: 'ex_requests_total', help: 'R.', labelNames: ['m'], enableExemplars: true, registers: [reg] });
  c.inc({ labels: { m: 'GET' }, value: 2, exemplarLabels: { trace_id: 'abc123' } });
  c.inc({ labels: { m: 'GET' } });
  const h = new client.Histogram({ name: 'ex_latency_seconds', help: 'L.', buckets: [0.1, 1], enableExemplars: true, registers: [reg] });
  h.observe({ value: 0.5, exemplarLabels: { trace_id: 'def456' } });
  const text = await reg.metrics();
  assert.match(text, /^ex_requests_total\{m="GET"\} 3(\.0)? # \{trace_id="abc123"\} 2(\.0)? \d+(\.\d+)?$/m);
  assert.match(text, /^ex_latency_seconds_bucket\{le="1\.0"\} 1 # \{trace_id="def456"\} 0\.5 \d+(\.\d+)?$/m);
});

test('worker_threads write the same segment as the main thread', async () => {
  const c = new client.Counter({ name: 'thr_events_total', help: 'E.' });
  c.inc(10);
  const code = `
    const c = require(${JSON.stringify(path.resolve(__dirname, '..'))});
    const k = new c.Counter({ name: 'thr_events_total', help: 'E.' });
    for (let i = 0; i < 1000; i++) k.inc();
    require('node:worker_threads').parentPort.postMessage('done');`;
  await Promise.all([0, 1, 2].map(() => new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, env: process.env });
    w.on('message', () => w.terminate().then(resolve));
    w.on('error', reject);
  })));
  assert.strictEqual(sample(await client.register.metrics(), 'thr_events_total'), 3010);
});

test('past the series limit: updates dropped and counted, one warning, no exception', () => {
  const app = `
    const client = require(${JSON.stringify(path.resolve(__dirname, '..'))});
    const c = new client.Counter({ name: 'lim_total', help: 'L.', labelNames: ['id'] });
    for (let i = 0; i < 50; i++) c.inc({ id: String(i) });
    for (let i = 0; i < 50; i++) c.labels(String(i)).inc();
    c.inc({ id: 'x'.repeat(5000) });
    client.register.metrics().then(t => {
      console.log(JSON.stringify(client.droppedInProcess()));
      process.stdout.write(t);
    });`;
  const r = spawnSync(process.execPath, ['-e', app], {
    env: Object.assign({}, process.env, { FASTPROM_PATH: path.join(require('./helpers').tmp, 'limited'), FASTPROM_FAMILY_LIMIT: '10' }),
    encoding: 'utf8', timeout: 30000,
  });
  assert.strictEqual(r.status, 0, r.stderr);
  assert.strictEqual(r.stderr.match(/FastpromWarning/g).length, 1, r.stderr);
  assert.match(r.stderr, /lim_total: a series could not be recorded/);
  const [first, ...rest] = r.stdout.split('\n');
  const dropped = JSON.parse(first);
  const text = rest.join('\n');
  assert.deepStrictEqual(dropped, { updates: 40 + 40 + 1, series: 41 }, 'each refused label set asked the segment once');
  for (let i = 0; i < 10; i++) assert.strictEqual(sample(text, 'lim_total', { id: String(i) }), 2);
  assert.strictEqual(sample(text, 'lim_total', { id: '10' }), undefined);
});
