'use strict';
// The prom-client API over the segment: updates, children, registries, errors.

const { test } = require('node:test');
const assert = require('node:assert');
const { execFileSync } = require('node:child_process');
const { sample, parse } = require('./helpers');
const client = require('..');

const { Counter, Gauge, Histogram, Summary, Registry, register } = client;

test('counter: inc with and without labels, cached children, numbers as label values', async () => {
  const c = new Counter({ name: 'core_requests_total', help: 'Requests.', labelNames: ['method', 'code'] });
  c.inc({ method: 'GET', code: 200 });
  c.inc({ code: 200, method: 'GET' }, 2);
  const child = c.labels('POST', '500');
  assert.strictEqual(c.labels('POST', '500'), child, 'labels() returns the cached child');
  assert.strictEqual(c.labels({ method: 'POST', code: 500 }), child, 'the object form finds the same child');
  child.inc();
  child.inc(0.5);
  const text = await register.metrics();
  assert.strictEqual(sample(text, 'core_requests_total', { method: 'GET', code: '200' }), 3);
  assert.strictEqual(sample(text, 'core_requests_total', { method: 'POST', code: '500' }), 1.5);
  const v = await c.get();
  assert.strictEqual(v.type, 'counter');
  assert.strictEqual(v.name, 'core_requests_total');
  assert.deepStrictEqual(v.values.map(x => x.value).sort(), [1.5, 3]);
});

test('counter: unlabelled shows 0 from construction; name without _total is exposed with it', async () => {
  const c = new Counter({ name: 'core_plain', help: 'Plain.' });
  assert.strictEqual(sample(await register.metrics(), 'core_plain_total'), 0);
  c.inc(4);
  assert.strictEqual(sample(await register.metrics(), 'core_plain_total'), 4);
});

test("errors: prom-client's messages for the same misuse", () => {
  const c = new Counter({ name: 'core_err_total', help: 'E.', labelNames: ['a'] });
  assert.throws(() => c.inc(-1), { message: 'It is not possible to decrease a counter' });
  assert.throws(() => c.inc({ a: 'x' }, -1), { message: 'It is not possible to decrease a counter' });
  assert.throws(() => c.inc('3'), { name: 'TypeError', message: 'Value is not a valid number: 3' });
  assert.throws(() => c.inc(Infinity), { name: 'TypeError' });
  assert.throws(() => c.inc({ b: 'x' }), { message: 'Added label "b" is not included in initial labelset: [ \'a\' ]' });
  assert.throws(() => c.labels('x', 'y'), { message: 'Invalid number of arguments (2): "x, y" for label names (1): "a".' });
  assert.throws(() => new Counter({ name: 'core_err_total', help: 'again' }),
    { message: 'A metric with the name core_err_total has already been registered.' });
  assert.throws(() => new Counter({ help: 'h' }), { message: 'Missing mandatory name parameter' });
  assert.throws(() => new Counter({ name: 'x' }), { message: 'Missing mandatory help parameter' });
  assert.throws(() => new Counter({ name: 'bad-name', help: 'h' }), { message: 'Invalid metric name' });
  assert.throws(() => new Counter({ name: 'ok', help: 'h', labelNames: ['bad-label'] }), { message: 'Invalid label name' });
  assert.throws(() => new Counter('x'), { name: 'TypeError', message: 'constructor expected a config object' });
  assert.throws(() => new Histogram({ name: 'core_h_le', help: 'h', labelNames: ['le'] }),
    { message: 'le is a reserved label keyword' });
  assert.throws(() => new Summary({ name: 'core_s_q', help: 'h', labelNames: ['quantile'] }),
    { message: 'quantile is a reserved label keyword' });
  assert.throws(() => new Counter({ name: 'core_ex', help: 'h', enableExemplars: true }),
    { name: 'TypeError', message: 'Exemplars are supported only on OpenMetrics registries' });
  assert.throws(() => new Gauge({ name: 'core_avg', help: 'h', aggregator: 'average' }), /liveall/);
  assert.throws(() => new Counter({ name: 'core_cmax', help: 'h', aggregator: 'max' }), /always summed/);
  const g = new Gauge({ name: 'core_err_gauge', help: 'G.' });
  assert.throws(() => g.set('1'), { name: 'TypeError', message: 'Value is not a valid number: 1' });
  assert.throws(() => g.inc('1'), { name: 'TypeError', message: 'Delta is not a valid number: 1' });
  const h = new Histogram({ name: 'core_err_hist', help: 'H.' });
  assert.throws(() => h.observe({}, NaN), { name: 'TypeError', message: 'Value is not a valid number: NaN' });
  // A failed call recorded nothing: no empty-label series appeared.
  return register.metrics().then(text => {
    assert.strictEqual(parse(text).filter(s => s.name === 'core_err_total').length, 0);
  });
});

test('gauge: set, inc, dec, setToCurrentTime, startTimer, children', async () => {
  const g = new Gauge({ name: 'core_gauge', help: 'G.', labelNames: ['k'] });
  g.set({ k: 'a' }, 10);
  g.inc({ k: 'a' });
  g.dec({ k: 'a' }, 3);
  g.labels('b').set(5);
  g.labels('b').inc(2);
  g.labels('b').dec();
  const before = Date.now() / 1000;
  g.setToCurrentTime({ k: 'now' });
  const end = g.startTimer({ k: 't' });
  const secs = end();
  assert.ok(secs >= 0 && secs < 5, `startTimer's end() returns seconds: ${secs}`);
  const text = await register.metrics();
  assert.strictEqual(sample(text, 'core_gauge', { k: 'a' }), 8);
  assert.strictEqual(sample(text, 'core_gauge', { k: 'b' }), 6);
  assert.ok(Math.abs(sample(text, 'core_gauge', { k: 'now' }) - before) < 5);
  assert.strictEqual(sample(text, 'core_gauge', { k: 't' }), secs);
  const unl = new Gauge({ name: 'core_gauge_plain', help: 'G.' });
  unl.inc(); unl.inc(2); unl.dec(0.5);
  assert.strictEqual(sample(await register.metrics(), 'core_gauge_plain'), 2.5);
});

test('histogram: buckets, sum, count, startTimer, zero, get()', async () => {
  const h = new Histogram({ name: 'core_latency_seconds', help: 'L.', labelNames: ['route'], buckets: [0.1, 1, 10] });
  h.observe({ route: '/a' }, 0.05);
  h.observe({ route: '/a' }, 0.5);
  h.labels('/a').observe(5);
  h.labels({ route: '/a' }).observe(50);
  h.zero({ route: '/z' });
  const end = h.startTimer({ route: '/t' });
  const secs = end();
  const text = await register.metrics();
  const b = le => sample(text, 'core_latency_seconds_bucket', { route: '/a', le });
  assert.deepStrictEqual([b('0.1'), b('1.0'), b('10.0'), b('+Inf')], [1, 2, 3, 4]);
  assert.strictEqual(sample(text, 'core_latency_seconds_sum', { route: '/a' }), 55.55);
  assert.strictEqual(sample(text, 'core_latency_seconds_count', { route: '/a' }), 4);
  assert.strictEqual(sample(text, 'core_latency_seconds_count', { route: '/z' }), 0);
  assert.strictEqual(sample(text, 'core_latency_seconds_sum', { route: '/t' }), secs);
  const got = await h.get();
  const inf = got.values.find(v => v.metricName === 'core_latency_seconds_bucket' && v.labels.route === '/a' && v.labels.le === '+Inf');
  assert.strictEqual(inf.value, 4);
  assert.ok(got.values.some(v => v.labels.le === 0.1), 'finite bounds are numbers, as in prom-client');
});

test('unlabelled metrics take {} as no labels: startTimer, observe({}, v), labels()', async () => {
  const h = new Histogram({ name: 'core_plain_seconds', help: 'P.', buckets: [1] });
  const secs = h.startTimer()();
  h.observe({}, 2);
  h.labels().observe(0.5);
  const c = new Counter({ name: 'core_plain_obj_total', help: 'P.' });
  c.inc({}, 2);
  c.labels().inc();
  assert.throws(() => c.inc({ x: 1 }), /Added label "x"/);
  const text = await register.metrics();
  assert.strictEqual(sample(text, 'core_plain_seconds_count'), 3);
  assert.strictEqual(sample(text, 'core_plain_seconds_sum'), secs + 2.5);
  assert.strictEqual(sample(text, 'core_plain_obj_total'), 3);
  assert.deepStrictEqual(client.droppedInProcess(), { updates: 0, series: 0 });
});

test('summary: count, sum and the configured quantiles', async () => {
  const s = new Summary({ name: 'core_sizes', help: 'S.', percentiles: [0.5, 0.9] });
  for (let i = 1; i <= 100; i++) s.observe(i);
  const text = await register.metrics();
  assert.strictEqual(sample(text, 'core_sizes_count'), 100);
  assert.strictEqual(sample(text, 'core_sizes_sum'), 5050);
  const p50 = sample(text, 'core_sizes', { quantile: '0.5' });
  assert.ok(p50 >= 49 && p50 <= 52, `p50 ${p50}`);
});

test('registries: another Registry shows only its metrics; JSON, single metric, default labels, OpenMetrics', async () => {
  const reg = new Registry();
  const c = new Counter({ name: 'core_reg_total', help: 'In reg.', registers: [reg] });
  c.inc(2);
  const text = await reg.metrics();
  assert.deepStrictEqual(parse(text).map(x => x.name), ['core_reg_total']);
  assert.strictEqual(reg.getSingleMetric('core_reg_total'), c);
  assert.match(await reg.getSingleMetricAsString('core_reg_total'), /^# HELP core_reg_total In reg\.\n# TYPE core_reg_total counter\ncore_reg_total 2$/);
  const json = await reg.getMetricsAsJSON();
  assert.deepStrictEqual(json.map(m => [m.name, m.type, m.values[0].value]), [['core_reg_total', 'counter', 2]]);
  reg.setDefaultLabels({ service: 'api', 'x': 'y"z' });
  assert.strictEqual(sample(await reg.metrics(), 'core_reg_total', { service: 'api', x: 'y"z' }), 2);
  assert.strictEqual((await reg.getMetricsAsJSON())[0].values[0].labels.service, 'api');
  reg.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const om = await reg.metrics();
  assert.match(om, /# TYPE core_reg counter\n/);
  assert.match(om, /# EOF\n$/);
  reg.removeSingleMetric('core_reg_total');
  assert.strictEqual(reg.getSingleMetric('core_reg_total'), undefined);
  assert.strictEqual(parse(await reg.metrics()).length, 0);
  const merged = Registry.merge([new Registry(Registry.OPENMETRICS_CONTENT_TYPE), reg]);
  assert.ok(merged instanceof Registry);
  assert.throws(() => new Registry('text/html'), { name: 'TypeError', message: 'Content type text/html is unsupported' });
});

test('remove and reset leave the segment consistent', async () => {
  const c = new Counter({ name: 'core_rm_total', help: 'R.', labelNames: ['k'] });
  const child = c.labels('a');
  child.inc(3);
  c.inc({ k: 'b' }, 1);
  c.remove('a');
  let text = await register.metrics();
  assert.strictEqual(sample(text, 'core_rm_total', { k: 'a' }), undefined);
  assert.strictEqual(sample(text, 'core_rm_total', { k: 'b' }), 1);
  child.inc(); // a removed child drops its updates, never crashes
  c.inc({ k: 'a' });
  text = await register.metrics();
  assert.strictEqual(sample(text, 'core_rm_total', { k: 'a' }), 1, 'a new series starts from zero');
  c.reset();
  assert.strictEqual(parse(await register.metrics()).filter(s => s.name === 'core_rm_total').length, 0);
  c.inc({ k: 'b' });
  assert.strictEqual(sample(await register.metrics(), 'core_rm_total', { k: 'b' }), 1);
  const g = new Gauge({ name: 'core_rm_gauge', help: 'G.', labelNames: ['k'] });
  g.set({ k: 'x' }, 7);
  g.reset();
  assert.strictEqual(sample(await register.metrics(), 'core_rm_gauge', { k: 'x' }), 0);
});

test('collect() runs at metrics() and from the timer', async () => {
  let calls = 0;
  const g = new Gauge({
    name: 'core_collected', help: 'C.', collect() {
      calls++;
      this.set(calls);
    },
  });
  assert.ok(g);
  await register.metrics();
  assert.ok(calls >= 1);
  client.setCollectInterval(20);
  const before = calls;
  // Bounded wait: the machine may be loaded, the timer late.
  for (let i = 0; i < 100 && calls <= before + 1; i++) await new Promise(r => setTimeout(r, 30));
  assert.ok(calls > before + 1, `the timer called collect (${calls} > ${before})`);
  client.setCollectInterval(5000);
});

test('aggregators are gauge modes: first -> mostrecent, max -> livemax', () => {
  const native = require('../lib/native');
  const segments = require('../lib/segment');
  new Gauge({ name: 'core_first', help: 'F.', aggregator: 'first' });
  new Gauge({ name: 'core_max', help: 'M.', aggregator: 'max' });
  new Gauge({ name: 'core_mode', help: 'M.', aggregator: 'liveall' });
  const doc = JSON.parse(native.render(segments.sharedSegment().id, 2, ['core_first', 'core_max', 'core_mode'], null, 0, null));
  assert.deepStrictEqual(doc.families.map(f => [f.name, f.gauge_mode]),
    [['core_first', 'mostrecent'], ['core_max', 'livemax'], ['core_mode', 'liveall']]);
});

test('two processes write one segment: the scrape shows the sum', async () => {
  const c = new Counter({ name: 'core_shared_total', help: 'Both.' });
  c.inc(5);
  const child = `const c = require(${JSON.stringify(require.resolve('..'))});
    new c.Counter({ name: 'core_shared_total', help: 'Both.' }).inc(7);`;
  execFileSync(process.execPath, ['-e', child], { env: process.env, stdio: 'inherit' });
  assert.strictEqual(sample(await register.metrics(), 'core_shared_total'), 12);
});

test('bad calls into the addon are refused, never a crash', () => {
  const native = require('../lib/native');
  assert.strictEqual(native.inc(999999, 1), -1);
  assert.strictEqual(native.inc(-5, 1), -1);
  assert.strictEqual(native.observe('x', 1), -1);
  assert.strictEqual(native.set(0, 1), -1);
  assert.strictEqual(native.inc(), -1);
  assert.throws(() => native.series(424242, ['a']), { code: 'FASTPROM_EINVAL' });
  assert.throws(() => native.family(99, { type: 1, name: 'x' }), { code: 'FASTPROM_EINVAL' });
  assert.throws(() => native.render(77, 0), { code: 'FASTPROM_EINVAL' });
  assert.throws(() => native.family(0, { type: 1, name: 'x', labelNames: [1, 2] }), /string/);
});

test('AggregatorRegistry.clusterMetrics() renders the whole segment in its content type', async () => {
  const c = new Counter({ name: 'core_cluster_total', help: 'C.' });
  c.inc(2);
  const agg = new client.AggregatorRegistry(Registry.OPENMETRICS_CONTENT_TYPE);
  const text = await agg.clusterMetrics();
  assert.strictEqual(sample(text, 'core_cluster_total'), 2);
  assert.match(text, /# EOF\n$/);
  assert.strictEqual(register.contentType, Registry.PROMETHEUS_CONTENT_TYPE);
  assert.throws(() => client.AggregatorRegistry.aggregate([]), /not needed/);
});

test("segmentInfo: the shared segment's figures, the full segment's shared-cell updates among them", () => {
  const info = client.segmentInfo();
  assert.strictEqual(typeof info.path, 'string');
  for (const key of ['size', 'used', 'series', 'droppedSeries', 'droppedUpdates', 'fallbackUpdates'])
    assert.strictEqual(typeof info.stat[key], 'number', `stat has no number ${key}`);
  assert.ok(info.stat.used <= info.stat.size);
});
