'use strict';
// Monitoring never takes the application down (issue 12, item 5): when the
// segment cannot be created or attached, or refuses a metric, requiring the
// package and creating and updating metrics never throw; the metrics go to a
// private in-process segment, one warning names the problem and the fix, and
// fastprom_segment_fallback_total{path,reason} counts it (the Python package's name).

const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { tmp, BUILD, sample } = require('./helpers');

const PKG = path.resolve(__dirname, '..');

// An app that creates and updates metrics, then prints its own metrics().
const APP = `
const client = require(${JSON.stringify(PKG)});
const c = new client.Counter({ name: 'app_events_total', help: 'Events.', labelNames: ['kind'] });
const h = new client.Histogram({ name: 'app_latency_seconds', help: 'Latency.' });
const g = new client.Gauge({ name: 'app_queue', help: 'Queue.' });
c.inc({ kind: 'a' }, 3);
c.labels('b').inc();
h.observe(0.2);
g.set(7);
client.register.metrics().then(text => process.stdout.write(text));
`;

function runApp(env, options = {}) {
  const r = spawnSync(process.execPath, ['-e', APP], {
    env: Object.assign({}, process.env, env), encoding: 'utf8', timeout: 30000, ...options,
  });
  assert.strictEqual(r.status, 0, `the app must run: status ${r.status}\n${r.stderr}`);
  return r;
}

function assertFellBack(r, path, reason, fixWords) {
  const warnings = r.stderr.split('\n').filter(l => l.includes('FastpromWarning'));
  assert.strictEqual(warnings.length, 1, `one warning, got:\n${r.stderr}`);
  assert.match(warnings[0], new RegExp(`reason="${reason}"`));
  assert.match(warnings[0], /Fix: /);
  assert.match(warnings[0], fixWords);
  assert.strictEqual(sample(r.stdout, 'fastprom_segment_fallback_total', { path, reason }), 1, r.stdout);
  // Nothing recorded was lost: the private segment has it all.
  assert.strictEqual(sample(r.stdout, 'app_events_total', { kind: 'a' }), 3);
  assert.strictEqual(sample(r.stdout, 'app_events_total', { kind: 'b' }), 1);
  assert.strictEqual(sample(r.stdout, 'app_latency_seconds_count'), 1);
  assert.strictEqual(sample(r.stdout, 'app_queue'), 7);
}

function freshSegment(name, size) {
  const seg = path.join(tmp, name);
  const r = spawnSync(path.join(BUILD, 'fastprom'), ['--path', seg, 'init', '--size', size || '1M'], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  return seg;
}

test('a file that is not a segment: corrupt', () => {
  const seg = path.join(tmp, 'garbage');
  fs.writeFileSync(seg, Buffer.alloc(1 << 20, 0x5a));
  assertFellBack(runApp({ FASTPROM_PATH: seg }), seg, 'corrupt', /remove it/);
});

test('a segment of another layout version: version', () => {
  const seg = freshSegment('other-version');
  const fd = fs.openSync(seg, 'r+');
  const v = Buffer.alloc(4);
  fs.readSync(fd, v, 0, 4, 8); // layout_version follows the 8-byte magic
  v.writeUInt32LE(v.readUInt32LE(0) + 1000);
  fs.writeSync(fd, v, 0, 4, 8);
  fs.closeSync(fd);
  assertFellBack(runApp({ FASTPROM_PATH: seg }), seg, 'layout_version', /another fastprom version/);
});

test('a segment this user may not write: permission', () => {
  const seg = freshSegment('root-only');
  fs.chmodSync(seg, 0o600);
  const options = {};
  if (process.getuid() === 0) {
    // root ignores file modes: run the app as nobody, in a directory it may read.
    fs.chmodSync(tmp, 0o755);
    options.uid = 65534;
    options.gid = 65534;
  } else {
    fs.chmodSync(seg, 0o000);
  }
  assertFellBack(runApp({ FASTPROM_PATH: seg }, options), seg, 'permission', /write access/);
});

test('a path that cannot be a segment: error', () => {
  const seg = '/proc/self/no/such/dir/segment';
  assertFellBack(runApp({ FASTPROM_PATH: seg }), seg, 'error', /FASTPROM_PATH/);
});

test('a full segment: the metrics that do not fit go private, the others stay shared', () => {
  const seg = freshSegment('tiny', '256K');
  const fill = `
    const client = require(${JSON.stringify(PKG)});
    const made = [];
    for (let i = 0; i < 2000; i++) {
      const c = new client.Counter({ name: 'fill_' + i + '_total', help: 'x'.repeat(100), labelNames: ['a', 'b'] });
      c.inc({ a: 'v', b: String(i) }, i);
      made.push(c);
    }
    client.register.metrics().then(text => process.stdout.write(text));`;
  const r = spawnSync(process.execPath, ['-e', fill], {
    env: Object.assign({}, process.env, { FASTPROM_PATH: seg }), encoding: 'utf8', timeout: 60000,
  });
  assert.strictEqual(r.status, 0, r.stderr);
  assert.match(r.stderr, /reason="full"/);
  assert.ok(sample(r.stdout, 'fastprom_segment_fallback_total', { path: seg, reason: 'full' }) >= 1);
  // Every value is there, whichever segment holds it.
  for (const i of [0, 1, 999, 1999]) assert.strictEqual(sample(r.stdout, `fill_${i}_total`, { a: 'v', b: String(i) }), i);
  // The shared segment kept what fit: fastprom dump shows the first families.
  const dump = spawnSync(path.join(BUILD, 'fastprom'), ['--path', seg, 'dump'], { encoding: 'utf8' });
  assert.strictEqual(sample(dump.stdout, 'fill_1_total', { a: 'v', b: '1' }), 1);
  assert.strictEqual(sample(dump.stdout, 'fill_1999_total', { a: 'v', b: '1999' }), undefined);
});

test('a metric another process defined differently: conflict, this process keeps counting', () => {
  const seg = freshSegment('conflict');
  const other = spawnSync(path.join(BUILD, 'fastprom'), ['--path', seg, 'inc', 'app_events_total', 'other=1'], { encoding: 'utf8' });
  assert.strictEqual(other.status, 0, other.stderr);
  const r = runApp({ FASTPROM_PATH: seg });
  assert.match(r.stderr, /reason="conflict"/);
  assert.strictEqual(sample(r.stdout, 'app_events_total', { kind: 'a' }), 3, "this process's values are shown");
  assert.strictEqual(r.stdout.match(/^# TYPE app_events_total /gm).length, 1, 'once');
  const dump = spawnSync(path.join(BUILD, 'fastprom'), ['--path', seg, 'dump'], { encoding: 'utf8' });
  assert.strictEqual(sample(dump.stdout, 'app_events_total', { other: '1' }), 1, "/metrics keeps the other's");
  assert.strictEqual(sample(dump.stdout, 'app_latency_seconds_count'), 1, 'the rest went to the shared segment');
});
