'use strict';
// Parity with prom-client 15 (the pinned devDependency): the same calls on
// both give the same parsed samples, the same get() values, and the same
// errors for the same misuse. Normalised only where README.md says fastprom
// differs: an omitted label reads as "" (Prometheus treats both alike), and
// a summary's quantiles come from a mergeable sketch (within 2%).

const { test } = require('node:test');
const assert = require('node:assert');
const { parse } = require('./helpers');
const fastprom = require('..');
const promClient = require('prom-client');

const OM = promClient.Registry.OPENMETRICS_CONTENT_TYPE;

function registryOf(lib, contentType) {
  return lib === fastprom ? new fastprom.Registry(contentType, { private: true }) : new promClient.Registry(contentType);
}

// The same sequence of calls, on either library.
function scenario(lib, registers) {
  const c = new lib.Counter({ name: 'par_requests_total', help: 'Requests.', labelNames: ['method', 'code'], registers });
  c.inc({ method: 'GET', code: 200 });
  c.inc({ code: 200, method: 'GET' }, 2.5);
  c.labels('POST', '201').inc();
  c.labels({ method: 'PUT', code: 500 }).inc(4);
  c.inc({ method: 'DELETE' }); // code omitted
  const plain = new lib.Counter({ name: 'par_plain_total', help: 'Plain.', registers });
  plain.inc();
  plain.inc(0);
  const g = new lib.Gauge({ name: 'par_queue', help: 'Queue.', labelNames: ['q'], registers });
  g.set({ q: 'a' }, 10);
  g.inc({ q: 'a' }, 5);
  g.dec({ q: 'a' });
  g.labels('b').set(-3.25);
  g.labels('b').inc();
  const g0 = new lib.Gauge({ name: 'par_temp', help: 'Temp.', registers });
  g0.set(21.5);
  g0.dec(0.5);
  const h = new lib.Histogram({ name: 'par_latency_seconds', help: 'Latency.', labelNames: ['route'], buckets: [0.01, 0.1, 1, 10], registers });
  for (const v of [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 50, 0]) h.observe({ route: '/a' }, v);
  h.labels('/b').observe(0.2);
  h.observe({ route: '/b' }, 3);
  h.zero({ route: '/z' });
  const h0 = new lib.Histogram({ name: 'par_sizes', help: 'Sizes.', registers });
  h0.observe(0.3);
  h0.observe(7);
  const s = new lib.Summary({ name: 'par_payload_bytes', help: 'Payload.', percentiles: [0.5, 0.9, 0.99], registers });
  for (let i = 1; i <= 1000; i++) s.observe(i);
  c.remove('POST', '201');
}

function normalise(text) {
  const out = new Map();
  for (const smp of parse(text)) {
    const labels = Object.entries(smp.labels)
      .filter(([, v]) => v !== '')
      .map(([k, v]) => [k, k === 'le' && v !== '+Inf' ? String(Number(v)) : v])
      .sort();
    out.set(`${smp.name}${JSON.stringify(labels)}`, smp.value);
  }
  return out;
}

function compare(ours, theirs) {
  const a = normalise(ours);
  const b = normalise(theirs);
  const quantile = k => k.includes('"quantile"');
  assert.deepStrictEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, v] of b) {
    if (quantile(k)) assert.ok(Math.abs(a.get(k) - v) <= 0.02 * Math.abs(v) + 1, `${k}: ${a.get(k)} vs ${v}`);
    else assert.strictEqual(a.get(k), v, k);
  }
}

test('the same calls give the same samples (text 0.0.4)', async () => {
  const ours = registryOf(fastprom);
  const theirs = registryOf(promClient);
  scenario(fastprom, [ours]);
  scenario(promClient, [theirs]);
  compare(await ours.metrics(), await theirs.metrics());
});

test('the same calls give the same samples (OpenMetrics)', async () => {
  const ours = registryOf(fastprom, OM);
  const theirs = registryOf(promClient, OM);
  scenario(fastprom, [ours]);
  scenario(promClient, [theirs]);
  const [a, b] = [await ours.metrics(), await theirs.metrics()];
  assert.match(a, /# EOF\n$/);
  // prom-client 15 prints no _created; fastprom leaves them out too unless asked.
  compare(a, b);
});

test('get() and getMetricsAsJSON() give the same values', async () => {
  const ours = registryOf(fastprom);
  const theirs = registryOf(promClient);
  scenario(fastprom, [ours]);
  scenario(promClient, [theirs]);
  const norm = items => items.filter(m => m.type !== 'summary').map(m => ({
    name: m.name, type: m.type, help: m.help, aggregator: m.aggregator,
    values: m.values.map(v => JSON.stringify([v.metricName || m.name, Object.entries(v.labels)
      .filter(([, x]) => x !== '' && x !== undefined).map(([k, x]) => [k, k === 'le' ? x : String(x)]).sort(), v.value]))
      .sort(),
  })).sort((x, y) => (x.name < y.name ? -1 : 1));
  assert.deepStrictEqual(norm(await ours.getMetricsAsJSON()), norm(await theirs.getMetricsAsJSON()));
});

// Each misuse, run against a fresh registry of each library.
const MISUSE = {
  'negative counter increment': (lib, r) => new lib.Counter({ name: 'm_total', help: 'h', registers: [r] }).inc(-1),
  'negative labelled increment': (lib, r) => new lib.Counter({ name: 'm_total', help: 'h', labelNames: ['a'], registers: [r] }).inc({ a: 'x' }, -2),
  'string increment': (lib, r) => new lib.Counter({ name: 'm_total', help: 'h', registers: [r] }).inc('5'),
  'infinite increment': (lib, r) => new lib.Counter({ name: 'm_total', help: 'h', registers: [r] }).inc(Infinity),
  'unknown label': (lib, r) => new lib.Counter({ name: 'm_total', help: 'h', labelNames: ['a'], registers: [r] }).inc({ b: 1 }),
  'unknown gauge label': (lib, r) => new lib.Gauge({ name: 'm', help: 'h', labelNames: ['a'], registers: [r] }).set({ z: 1 }, 1),
  'wrong label count': (lib, r) => new lib.Gauge({ name: 'm', help: 'h', labelNames: ['a', 'b'], registers: [r] }).labels('x'),
  'gauge set string': (lib, r) => new lib.Gauge({ name: 'm', help: 'h', registers: [r] }).set('1'),
  'gauge inc string': (lib, r) => new lib.Gauge({ name: 'm', help: 'h', registers: [r] }).inc('1'),
  'histogram NaN': (lib, r) => new lib.Histogram({ name: 'm', help: 'h', registers: [r] }).observe(NaN),
  'histogram string': (lib, r) => new lib.Histogram({ name: 'm', help: 'h', registers: [r] }).observe('x'),
  'histogram unknown label': (lib, r) => new lib.Histogram({ name: 'm', help: 'h', labelNames: ['a'], registers: [r] }).observe({ b: 1 }, 1),
  'summary infinite': (lib, r) => new lib.Summary({ name: 'm', help: 'h', registers: [r] }).observe(Infinity),
  'le label': (lib, r) => new lib.Histogram({ name: 'm', help: 'h', labelNames: ['le'], registers: [r] }),
  'quantile label': (lib, r) => new lib.Summary({ name: 'm', help: 'h', labelNames: ['quantile'], registers: [r] }),
  'invalid metric name': (lib, r) => new lib.Counter({ name: '9lives', help: 'h', registers: [r] }),
  'invalid label name': (lib, r) => new lib.Counter({ name: 'm', help: 'h', labelNames: ['a-b'], registers: [r] }),
  'missing help': (lib, r) => new lib.Counter({ name: 'm', registers: [r] }),
  'missing name': (lib, r) => new lib.Counter({ help: 'h', registers: [r] }),
  'config not an object': lib => new lib.Gauge(3),
  'collect not a function': (lib, r) => new lib.Gauge({ name: 'm', help: 'h', collect: 3, registers: [r] }),
  'registered twice': (lib, r) => {
    new lib.Counter({ name: 'm_total', help: 'h', registers: [r] });
    new lib.Counter({ name: 'm_total', help: 'h', registers: [r] });
  },
  'exemplars on a text registry': (lib, r) => new lib.Counter({ name: 'm_total', help: 'h', enableExemplars: true, registers: [r] }),
  'bad content type': lib => new lib.Registry('text/html'),
  'linear buckets without count': lib => lib.linearBuckets(0, 1, 0),
  'exponential buckets with factor 1': lib => lib.exponentialBuckets(1, 1, 3),
  'default metrics with a string': lib => lib.collectDefaultMetrics('yes'),
};

function outcome(fn, lib) {
  try {
    fn(lib, registryOf(lib));
    return 'no error';
  } catch (e) {
    return `${e.constructor.name}: ${e.message}`;
  }
}

test('the same misuse gives the same error', () => {
  for (const [what, fn] of Object.entries(MISUSE)) {
    const theirs = outcome(fn, promClient);
    assert.notStrictEqual(theirs, 'no error', `${what}: prom-client raises`);
    assert.strictEqual(outcome(fn, fastprom), theirs, what);
  }
});

test('labelled children keep working after the same misuse, as in prom-client', async () => {
  for (const lib of [fastprom, promClient]) {
    const r = registryOf(lib);
    const c = new lib.Counter({ name: 'after_total', help: 'h', labelNames: ['a'], registers: [r] });
    assert.throws(() => c.inc({ a: 'x' }, -1));
    c.inc({ a: 'x' });
    assert.deepStrictEqual(parse(await r.metrics()).map(s => [s.name, s.value]), [['after_total', 1]]);
  }
});
