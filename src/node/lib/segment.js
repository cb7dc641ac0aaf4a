'use strict';
// Segments as the package sees them: the process's shared segment (what
// fastprom-fcgi serves), other named segments, and one private in-process
// segment that receives what the shared one cannot take.
//
// Monitoring never takes the application down: when a segment cannot be
// opened (no space, permission denied, another layout version, corrupt) or
// refuses a metric's definition, the metric is recorded in the private
// segment instead. The process gets one warning per kind of problem
// (process.emitWarning, type FastpromWarning) naming the problem and the
// fix, and the condition is counted in
// fastprom_segment_fallback_total{path,reason} (the Python package's name and
// reasons, plus full and conflict for a metric the shared segment refused),
// which this process's register.metrics() shows. Nothing throws.

const native = require('./native');

const FLAG_PRIVATE = 0x2;
const FORMAT_TEXT = 0;
const FORMAT_OPENMETRICS = 1;
const FORMAT_JSON = 2;
const RENDER_NO_EOF = 0x2;
const SMALL_PRIVATE = 256 << 10;

class Segment {
  constructor(id, label, isPrivate) {
    this.id = id;
    this.label = label;
    this.isPrivate = isPrivate;
  }

  render(format, names, flags) {
    return native.render(this.id, format, names || null, null, flags || 0, null);
  }

  stat() {
    return native.stat(this.id);
  }

  close() {
    native.close(this.id);
  }
}

let shared = null; // path of FASTPROM_PATH (or the default), opened on first use
const named = new Map(); // other segment files, by path
let privateSeg = null;
const warned = new Set();
let fallbackFamily = null;
const fallbackSeries = new Map();

// Problems of the segment, as opposed to errors of the caller.
const SEGMENT_PROBLEMS = new Set([
  'FASTPROM_ESYS', 'FASTPROM_ECORRUPT', 'FASTPROM_EVERSION', 'FASTPROM_EFULL', 'FASTPROM_EEXIST',
  'FASTPROM_ENOENT', 'FASTPROM_EBUSY', 'FASTPROM_ENOMEM', 'FASTPROM_ERDONLY',
]);

function isSegmentProblem(err) {
  return err && SEGMENT_PROBLEMS.has(err.code);
}

// [reason label, what to do] for an error of fastprom_open / fastprom_family.
function diagnose(err) {
  const text = String(err && err.message);
  switch (err && err.code) {
    case 'FASTPROM_EVERSION':
      return ['layout_version', 'the segment was made by another fastprom version: stop its writers and the worker, ' +
        'remove the file (or `fastprom init` it anew) and restart them with one version'];
    case 'FASTPROM_ECORRUPT':
      return ['corrupt', 'the file is not a usable fastprom segment: check FASTPROM_PATH names the segment, ' +
        'then remove it (or `fastprom init` it anew) and restart the writers'];
    case 'FASTPROM_EFULL':
      return ['full', 'the segment has no room left: re-create it larger (FASTPROM_SIZE, `fastprom init --size`) ' +
        'or record fewer series'];
    case 'FASTPROM_EEXIST':
      return ['conflict', 'another process defined this metric differently (type, labels or buckets): make every ' +
        'process define it the same way, or re-create the segment after a deployment that changed it'];
    case 'FASTPROM_ENOMEM':
      return ['memory', 'the process is out of memory'];
    default:
      if (/EACCES|EPERM|ermission denied|not permitted/.test(text)) {
        return ['permission', 'give this process\'s user write access to the segment (its group, FASTPROM_MODE) ' +
          'or point FASTPROM_PATH at a file it may write'];
      }
      if (/ENOSPC|No space|EDQUOT|quota/.test(text)) {
        return ['no_space', 'free space where the segment lives (/dev/shm by default), or set FASTPROM_PATH to ' +
          'a filesystem with room, or a smaller FASTPROM_SIZE'];
      }
      return ['error', 'check FASTPROM_PATH and the directory it is in'];
  }
}

// A new anonymous segment (memfd) of this process; size 0: FASTPROM_SIZE or 8 MiB.
function newPrivate(size) {
  return new Segment(native.open(null, size || 0, FLAG_PRIVATE, 0), '<private>', true);
}

// The process's private segment: fallbacks and aggregator 'omit'.
function privateSegment() {
  if (!privateSeg) privateSeg = newPrivate(0);
  return privateSeg;
}

function countFallback(path, reason) {
  const seg = privateSegment();
  if (fallbackFamily === null) {
    fallbackFamily = native.family(seg.id, {
      type: 1,
      name: 'fastprom_segment_fallback_total',
      help: 'Shared segments (or metric definitions) this process could not use, so that it records into a ' +
        'private one.',
      labelNames: ['path', 'reason'],
    });
  }
  const key = `${path}\0${reason}`;
  let s = fallbackSeries.get(key);
  if (s === undefined) {
    s = native.series(fallbackFamily, [path, reason]);
    fallbackSeries.set(key, s);
  }
  native.inc(s, 1);
}

// Records a fallback: counted every time, warned once per reason.
function fallback(err, path, what) {
  const [reason, fix] = diagnose(err);
  countFallback(path, reason);
  if (!warned.has(reason)) {
    warned.add(reason);
    process.emitWarning(
      `fastprom: ${what}: ${err.message}. Metrics affected are recorded in a private in-process segment ` +
        `that /metrics does not show (counted in fastprom_segment_fallback_total{reason="${reason}"}). ` +
        `Fix: ${fix}; then restart the process.`,
      { type: 'FastpromWarning', code: 'FASTPROM_FALLBACK' });
  }
  return privateSegment();
}

function open(path, options) {
  const o = options || {};
  try {
    return new Segment(native.open(path, o.size || 0, 0, o.mode || 0), path || 'the shared segment', false);
  } catch (err) {
    if (!isSegmentProblem(err)) throw err;
    const where = path || process.env.FASTPROM_PATH || '/dev/shm/fastprom';
    return fallback(err, where, `cannot use the segment ${where}`);
  }
}

// The segment $FASTPROM_PATH names (default /dev/shm/fastprom).
function sharedSegment() {
  if (!shared) {
    shared = open(null, {});
    if (!shared.isPrivate) shared.label = native.path(shared.id);
  }
  return shared;
}

function namedSegment(path, options) {
  let seg = named.get(path);
  if (!seg) {
    seg = open(path, options);
    named.set(path, seg);
  }
  return seg;
}

// Creates the family in seg, or in the private segment when seg cannot take
// it; errors of the caller (EINVAL: bad name, labels, buckets) are thrown.
function family(seg, def) {
  try {
    return { seg, fam: native.family(seg.id, def) };
  } catch (err) {
    if (!isSegmentProblem(err)) throw err;
    let priv = fallback(err, seg.label, `cannot record ${def.name} in ${seg.label}`);
    // A private segment that refuses too (the same name defined twice
    // differently in this process): a small one of the metric's own.
    if (priv === seg) priv = newPrivate(SMALL_PRIVATE);
    return { seg: priv, fam: native.family(priv.id, def) };
  }
}

module.exports = {
  Segment, sharedSegment, namedSegment, privateSegment, newPrivate, family, fallback, isSegmentProblem,
  hasPrivate: () => privateSeg !== null,
  FORMAT_TEXT, FORMAT_OPENMETRICS, FORMAT_JSON, RENDER_NO_EOF,
};
