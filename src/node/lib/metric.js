'use strict';
// Metric: what Counter, Gauge, Histogram and Summary share -- prom-client's
// constructor checks and errors, the family in the segment, children by label
// values, get(), collect callbacks.
//
// Series ids: each label set's series is created in the segment once and its
// id cached in this process (a Map keyed by the label values), so a repeated
// inc({a, b}) is a Map lookup and one call into C. Id 0 means "the segment
// refused this series" (series limit, segment full, a value it cannot hold):
// updates through it are dropped and counted, with one warning per metric;
// prom-client never throws there, and neither does fastprom.

const util = require('util');
const native = require('./native');
const segments = require('./segment');
const { globalRegistry, FORMAT_JSON } = require('./registry');
const { validateMetricName, validateLabelName, validateLabel, getLabels, isObject } = require('./validation');

const TYPES = { counter: 1, gauge: 2, histogram: 3, summary: 4 };
const FLAG_EXEMPLARS = 0x1;
const EFULL = -5;
const NO_SERIES = 0;
const NOT_MADE = -1;
const REFUSED_CAP = 1024;

const GAUGE_MODES = ['livesum', 'all', 'liveall', 'sum', 'max', 'livemax', 'min', 'livemin', 'mostrecent',
  'livemostrecent'];
// prom-client's cluster aggregators, as the segment's gauge modes.
const AGGREGATORS = { sum: 'livesum', max: 'livemax', min: 'livemin', first: 'mostrecent' };

const stats = { droppedUpdates: 0, droppedSeries: 0 };
const warned = new Set();

function warnOnce(key, text) {
  if (warned.has(key)) return;
  warned.add(key);
  process.emitWarning(text, { type: 'FastpromWarning', code: 'FASTPROM_DROPPED' });
}

// The canonical key of a label set: each value's length, ':', the value, in
// label-name order (a missing value is ""). Prefix-free, so no two distinct
// label sets share a key whatever bytes the values hold.
function keyOf(names, labels) {
  let key = '';
  for (let i = 0; i < names.length; i++) {
    const v = labels[names[i]];
    const s = v === undefined ? '' : typeof v === 'string' ? v : String(v);
    key += s.length + ':' + s;
  }
  return key;
}

// Values that may key the trees: primitives. An object as a label value
// (converted with String()) is looked up the slow way every time, so a new
// object per call cannot grow the trees without bound.
function cacheable(v) {
  const t = typeof v;
  return t === 'string' || t === 'number' || t === 'boolean' || t === 'undefined';
}

function treeSet(tree, raw, value) {
  if (!raw.every(cacheable)) return;
  let node = tree;
  for (let i = 0; i < raw.length - 1; i++) {
    let next = node.get(raw[i]);
    if (next === undefined) node.set(raw[i], (next = new Map()));
    node = next;
  }
  if (raw.length) node.set(raw[raw.length - 1], value);
}

function ownKeyCount(labels) {
  let n = 0;
  // eslint-disable-next-line no-unused-vars
  for (const k in labels) n++;
  return n;
}

function definedCount(names, labels) {
  let n = 0;
  for (let i = 0; i < names.length; i++) if (labels[names[i]] !== undefined) n++;
  return n;
}

// A JSON number of fastprom's JSON view ("NaN", "+Inf", "-Inf" are strings).
function num(v) {
  if (typeof v === 'number') return v;
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

function bound(le) {
  return le === '+Inf' ? '+Inf' : Number(le);
}

// ---- periodic collect callbacks -----------------------------------------------

// collect() runs when this process renders (register.metrics(), as
// prom-client), and every collectInterval ms from an unref()'d timer: the
// scrape itself runs in fastprom-fcgi, which cannot call into the app, so
// values computed by collect() are at most one interval old on /metrics.
const collecting = new Set();
let collectInterval = Number(process.env.FASTPROM_COLLECT_INTERVAL_MS) || 5000;
let collectTimer = null;

function runCollectors() {
  for (const m of collecting) {
    m._runCollect().catch(err => warnOnce(`collect:${m.name}`,
      `fastprom: the collect() callback of ${m.name} failed: ${err && err.message}`));
  }
}

function startCollectTimer() {
  if (collectTimer || collectInterval <= 0) return;
  collectTimer = setInterval(runCollectors, collectInterval);
  collectTimer.unref();
}

// Adds a metric whose collect was set after construction.
function track(metric) {
  collecting.add(metric);
  startCollectTimer();
}

function setCollectInterval(ms) {
  if (collectTimer) clearInterval(collectTimer);
  collectTimer = null;
  collectInterval = ms;
  if (collecting.size) startCollectTimer();
}

class Metric {
  constructor(config, defaults = {}, type) {
    if (!isObject(config)) throw new TypeError('constructor expected a config object');
    Object.assign(this, {
      labelNames: [],
      registers: [globalRegistry],
      aggregator: 'sum',
      enableExemplars: false,
    }, defaults, config);
    if (!this.registers) this.registers = [globalRegistry];
    if (!this.help) throw new Error('Missing mandatory help parameter');
    if (!this.name) throw new Error('Missing mandatory name parameter');
    if (!validateMetricName(this.name)) throw new Error('Invalid metric name');
    if (!validateLabelName(this.labelNames)) throw new Error('Invalid label name');
    if (this.collect && typeof this.collect !== 'function') {
      throw new Error('Optional "collect" parameter must be a function');
    }
    this.type = type;
    this._checkLabelNames();
    const mode = this._gaugeMode();
    for (const register of this.registers) {
      if (this.enableExemplars && register.contentType !== 'application/openmetrics-text; version=1.0.0; charset=utf-8') {
        throw new TypeError('Exemplars are supported only on OpenMetrics registries');
      }
      const other = register._metrics[this.name];
      if (other && other !== this) throw new Error(`A metric with the name ${this.name} has already been registered.`);
    }
    // An omitted metric stays in this process: prom-client leaves it out of
    // the cluster's output, fastprom out of the shared segment.
    const seg = this.aggregator === 'omit' ? segments.privateSegment()
      : this.registers.length ? this.registers[0]._segment() : segments.sharedSegment();
    const made = segments.family(seg, this._definition(mode));
    this._seg = made.seg;
    this._fam = made.fam;
    this._byKey = new Map(); // label values key -> series id
    this._children = new Map(); // label values key -> child object
    this._tree = new Map(); // raw label values, one Map level per label -> series id
    this._refused = new Map(); // label values key -> true: the segment refused the series
    this._childTree = new Map(); // the same -> child object
    this._s = NOT_MADE; // the series without labels (all "" for a labelled metric)
    if (this.labelNames.length === 0) this._s = this._makeSeries([]);
    for (const register of this.registers) register.registerMetric(this);
    if (this.collect) {
      collecting.add(this);
      startCollectTimer();
    }
  }

  _checkLabelNames() {}

  _gaugeMode() {
    const a = this.aggregator;
    if (a === 'sum' || a === 'omit' || a === undefined) return 0;
    throw new Error(`fastprom: aggregator '${a}' is not available for a ${this.type} (${this.name}): processes' ` +
      `${this.type} values are always summed in the segment; use 'sum' or 'omit'`);
  }

  _definition(mode) {
    return {
      type: TYPES[this.type],
      name: this.name,
      help: String(this.help),
      labelNames: this.labelNames,
      gaugeMode: mode,
      flags: this.enableExemplars ? FLAG_EXEMPLARS : 0,
    };
  }

  // ---- series ------------------------------------------------------------------

  _makeSeries(values) {
    try {
      return native.series(this._fam, values);
    } catch (err) {
      stats.droppedSeries++;
      warnOnce(`series:${this.name}`, `fastprom: ${this.name}: a series could not be recorded, its updates are ` +
        `dropped (counted in fastprom_dropped_series_total): ${err.message}`);
      return NO_SERIES;
    }
  }

  // The series of a label set given as an object; validates as prom-client.
  // Fast path: one Map per label, keyed by the raw values as given, so a
  // repeated label set costs Map lookups and a count of its keys, no string
  // building. The key count is what makes an unknown label throw as in
  // prom-client: a cached hit with an extra key goes the slow way.
  _seriesOf(labels) {
    const names = this.labelNames;
    const n = names.length;
    if (n === 0) {
      if (ownKeyCount(labels)) validateLabel(names, labels);
      return this._s >= 0 ? this._s : this._unlabelled();
    }
    let node = this._tree;
    for (let i = 0; node !== undefined && i < n; i++) node = node.get(labels[names[i]]);
    if (node !== undefined && ownKeyCount(labels) === definedCount(names, labels)) return node;
    validateLabel(names, labels);
    const s = this._seriesByKey(keyOf(names, labels), names.map(k => (labels[k] === undefined ? '' : String(labels[k]))));
    if (s !== NO_SERIES) treeSet(this._tree, names.map(k => labels[k]), s);
    return s;
  }

  // The canonical Map: one entry per series, whatever raw values named it.
  // Refused label sets are remembered in a Map of at most REFUSED_CAP
  // entries, so an app past its series limit does not take the segment lock
  // on every update, and a flood of new label values cannot grow memory.
  _seriesByKey(key, values) {
    let s = this._byKey.get(key);
    if (s === undefined) {
      if (this._refused.has(key)) return NO_SERIES;
      s = this._makeSeries(values);
      if (s !== NO_SERIES) {
        this._byKey.set(key, s);
      } else {
        if (this._refused.size >= REFUSED_CAP) this._refused.clear();
        this._refused.set(key, true);
      }
    }
    return s;
  }

  _unlabelled() {
    let s = this._s;
    if (s === NOT_MADE) {
      s = this._makeSeries(this.labelNames.map(() => ''));
      if (s !== NO_SERIES) this._s = s;
    }
    return s;
  }

  _failed(rc, s) {
    stats.droppedUpdates++;
    if (s === NO_SERIES) return; // warned when the series was refused
    if (rc === EFULL) {
      warnOnce('full', `fastprom: the segment is full: updates of ${this.name} (and maybe others) are dropped ` +
        'and counted in fastprom_dropped_updates_total; re-create it larger (FASTPROM_SIZE) or use fewer series');
    } else {
      warnOnce(`rc:${rc}:${this.name}`, `fastprom: an update of ${this.name} failed: ${native.strerror(rc)}`);
    }
  }

  // The cached child object of labels(...args); make() builds a new one.
  _child(args, make) {
    const names = this.labelNames;
    const n = names.length;
    const byObject = typeof args[0] === 'object' && args[0] !== null;
    let node = n === 0 ? undefined : this._childTree;
    if (byObject) {
      const labels = args[0];
      for (let i = 0; node !== undefined && i < n; i++) node = node.get(labels[names[i]]);
      if (node !== undefined && ownKeyCount(labels) === definedCount(names, labels)) return node;
    } else if (args.length === n) {
      for (let i = 0; node !== undefined && i < n; i++) node = node.get(args[i]);
      if (node !== undefined) return node;
    }
    const labels = getLabels(names, args); // throws prom-client's error for a wrong count
    validateLabel(names, labels);
    const raw = names.map(k => labels[k]);
    const key = keyOf(names, labels);
    let child = this._children.get(key);
    if (child === undefined) {
      const values = names.map(k => (labels[k] === undefined ? '' : String(labels[k])));
      child = make(n === 0 ? this._unlabelled() : this._seriesByKey(key, values), labels);
      if (child._s === NO_SERIES) return child;
      this._children.set(key, child);
    }
    treeSet(this._childTree, raw, child);
    return child;
  }

  _forget() {
    this._byKey.clear();
    this._refused.clear();
    this._children.clear();
    this._tree = new Map();
    this._childTree = new Map();
    this._s = NOT_MADE;
  }

  // remove(...labels): the series leaves the segment, for every process.
  remove(...args) {
    const labels = getLabels(this.labelNames, args) || {};
    validateLabel(this.labelNames, labels);
    const key = keyOf(this.labelNames, labels);
    try {
      native.remove(this._fam, this.labelNames.map(n => (labels[n] === undefined ? '' : String(labels[n]))));
    } catch (err) {
      warnOnce(`remove:${this.name}`, `fastprom: remove() of ${this.name} failed: ${err.message}`);
    }
    this._byKey.delete(key);
    const child = this._children.get(key);
    if (child) child._s = NO_SERIES;
    this._children.delete(key);
    // Other raw spellings of this label set may be in the trees: start them afresh.
    this._tree = new Map();
    this._childTree = new Map();
  }

  // reset(): every series of the family leaves the segment (for every
  // process) and starts again from zero, as in a prom-client process.
  reset() {
    try {
      native.clear(this._fam);
    } catch (err) {
      warnOnce(`reset:${this.name}`, `fastprom: reset() of ${this.name} failed: ${err.message}`);
    }
    for (const child of this._children.values()) child._s = NO_SERIES;
    this._forget();
    if (this.labelNames.length === 0) this._s = this._makeSeries([]);
  }

  async _runCollect() {
    if (this.collect) {
      const v = this.collect();
      if (v instanceof Promise) await v;
    }
  }

  // The family as fastprom's JSON view sees it: every process's values.
  _json() {
    const doc = JSON.parse(this._seg.render(FORMAT_JSON, [this.name], 0));
    const fam = doc.families.find(f => f.type === this.type);
    return fam ? fam.series : [];
  }

  async get() {
    await this._runCollect();
    return {
      help: this.help,
      name: this.name,
      type: this.type,
      values: this._values(this._json()),
      aggregator: this.aggregator,
    };
  }

  _values(series) {
    return series.map(s => ({ value: num(s.value), labels: s.labels }));
  }
}

function badNumber(value, what = 'Value') {
  return new TypeError(`${what} is not a valid number: ${util.format(value)}`);
}

module.exports = {
  Metric, GAUGE_MODES, AGGREGATORS, NO_SERIES, NOT_MADE, stats, num, bound, badNumber, keyOf, setCollectInterval,
  runCollectors, track,
};
