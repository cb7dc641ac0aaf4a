'use strict';
// collectDefaultMetrics(): prom-client's nodejs_* families, set from the collect timer.

const { test } = require('node:test');
const assert = require('node:assert');
const { parse, sample } = require('./helpers');
const client = require('..');

test("collectDefaultMetrics records prom-client's nodejs_* families, no process_*", async () => {
  client.collectDefaultMetrics({ labels: { app: 'svc' }, prefix: 'my_' });
  global.gc && global.gc();
  const text = await client.register.metrics();
  const names = new Set(parse(text).map(s => s.name));
  for (const name of ['my_nodejs_eventloop_lag_seconds', 'my_nodejs_eventloop_lag_p99_seconds',
    'my_nodejs_heap_size_used_bytes', 'my_nodejs_heap_space_size_used_bytes', 'my_nodejs_active_handles_total',
    'my_nodejs_version_info', 'my_nodejs_external_memory_bytes', 'my_nodejs_process_cpu_seconds_total',
    'my_nodejs_process_cpu_user_seconds_total', 'my_nodejs_process_resident_memory_bytes', 'my_nodejs_process_open_fds']) {
    assert.ok(names.has(name), `${name} in:\n${[...names].join(' ')}`);
  }
  assert.ok(![...names].some(n => n.startsWith('process_') || n.startsWith('my_process_')));
  const [major] = process.version.slice(1).split('.');
  assert.strictEqual(sample(text, 'my_nodejs_version_info',
    { version: process.version, major, minor: process.version.split('.')[1], patch: process.version.split('.')[2], app: 'svc' }), 1);
  assert.ok(sample(text, 'my_nodejs_heap_size_used_bytes', { app: 'svc' }) > 1e6);
  assert.ok(sample(text, 'my_nodejs_process_resident_memory_bytes', { app: 'svc' }) > 1e7);
  assert.ok(sample(text, 'my_nodejs_process_open_fds', { app: 'svc' }) >= 3);
  // CPU seconds grow with the work done, interval by interval.
  const before = sample(text, 'my_nodejs_process_cpu_seconds_total', { app: 'svc' });
  const t = Date.now();
  while (Date.now() - t < 200) Math.sqrt(Math.random());
  const after = sample(await client.register.metrics(), 'my_nodejs_process_cpu_seconds_total', { app: 'svc' });
  assert.ok(after > before, `cpu ${before} -> ${after}`);
  assert.throws(() => client.collectDefaultMetrics('x'), { name: 'TypeError', message: 'config must be null, undefined, or an object' });
  assert.ok(Array.isArray(client.collectDefaultMetrics.metricsList));
});

test('GC durations are observed', async () => {
  const junk = [];
  for (let i = 0; i < 200000; i++) junk.push({ i, s: 'x'.repeat(i % 50) });
  junk.length = 0;
  for (let i = 0; i < 100 && !/my_nodejs_gc_duration_seconds_count\{kind="/.test(await client.register.metrics()); i++) {
    await new Promise(r => setTimeout(r, 20));
    for (let j = 0; j < 50000; j++) junk.push(new Array(10));
    junk.length = 0;
  }
  assert.match(await client.register.metrics(), /my_nodejs_gc_duration_seconds_count\{kind="(minor|major|incremental|weakcb)",app="svc"\} [1-9]/);
});
