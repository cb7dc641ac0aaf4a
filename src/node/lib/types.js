'use strict';
// Counter, Gauge, Histogram, Summary: prom-client 15's methods and errors,
// each update one call into the addon. Children returned by labels() are
// cached objects holding their series id, so child.inc() does no label work.

const native = require('./native');
const {
  Metric, GAUGE_MODES, AGGREGATORS, NO_SERIES, num, bound, badNumber,
} = require('./metric');
const { isObject, validateLabel } = require('./validation');

const { performance } = require('perf_hooks');

function elapsedSince(start) {
  return (performance.now() - start) / 1000;
}

function counterAmount(value) {
  if (value === undefined || value === null) return 1;
  if (typeof value === 'number' && value >= 0 && value !== Infinity) return value;
  if (typeof value === 'number' && value < 0) throw new Error('It is not possible to decrease a counter');
  throw badNumber(value);
}

// ---- Counter -------------------------------------------------------------------

class CounterChild {
  constructor(metric, s) {
    this._m = metric;
    this._s = s;
  }

  inc(value) {
    const v = value === undefined ? 1 : counterAmount(value);
    const rc = native.inc(this._s, v);
    if (rc !== undefined) this._m._failed(rc, this._s);
  }
}

class Counter extends Metric {
  constructor(config) {
    super(config, {}, 'counter');
    if (this.enableExemplars) this.inc = this._incWithExemplar;
  }

  inc(labels, value) {
    let s;
    let v;
    if (labels !== null && typeof labels === 'object') {
      v = value === undefined ? 1 : counterAmount(value);
      s = this._seriesOf(labels);
    } else {
      v = labels === undefined ? 1 : counterAmount(labels);
      s = this._s >= 0 ? this._s : this._unlabelled();
    }
    const rc = native.inc(s, v);
    if (rc !== undefined) this._failed(rc, s);
  }

  _incWithExemplar({ labels = {}, value = 1, exemplarLabels = {} } = {}) {
    const s = this._seriesOf(labels);
    const v = counterAmount(value);
    const rc = Object.keys(exemplarLabels).length ? native.incExemplar(s, v, exemplarLabels) : native.inc(s, v);
    if (rc !== undefined) this._failed(rc, s);
  }

  labels(...args) {
    return this._child(args, s => new CounterChild(this, s));
  }
}

// ---- Gauge ------------------------------------------------------------------------

class GaugeChild {
  constructor(metric, s, labels) {
    this._m = metric;
    this._s = s;
    this._labels = labels;
  }

  inc(value) {
    this._m._apply(native.inc, this._s, value === undefined ? 1 : value, 'Delta');
  }

  dec(value) {
    this._m._apply(native.dec, this._s, value === undefined ? 1 : value, 'Delta');
  }

  set(value) {
    this._m._apply(native.set, this._s, value, 'Value');
  }

  setToCurrentTime() {
    this.set(Date.now() / 1000);
  }

  startTimer() {
    return this._m.startTimer(this._labels);
  }
}

class Gauge extends Metric {
  constructor(config) {
    super(config, {}, 'gauge');
  }

  _gaugeMode() {
    const a = this.aggregator;
    if (a === 'omit') return 0;
    const mode = AGGREGATORS[a] || a;
    const i = GAUGE_MODES.indexOf(mode);
    if (i >= 0) return i;
    throw new Error(`fastprom: aggregator '${a}' of gauge ${this.name} has no equivalent in the segment, which ` +
      "combines processes' gauge values itself: use 'sum', 'max', 'min', 'first' or 'omit' (as prom-client), or " +
      `one of fastprom's modes ${GAUGE_MODES.join(', ')}` +
      (a === 'average' ? "; for an average, 'liveall' keeps one series per process (label pid): avg without(pid) " +
        'in PromQL' : ''));
  }

  _apply(fn, s, value, what) {
    if (typeof value !== 'number') throw badNumber(value, what);
    const rc = fn(s, value);
    if (rc !== undefined) this._failed(rc, s);
  }

  _target(labels) {
    return isObject(labels) ? this._seriesOf(labels) : this._s >= 0 ? this._s : this._unlabelled();
  }

  set(labels, value) {
    if (!isObject(labels)) return this._apply(native.set, this._target(undefined), labels, 'Value');
    if (typeof value !== 'number') throw badNumber(value);
    return this._apply(native.set, this._seriesOf(labels), value, 'Value');
  }

  inc(labels, value) {
    if (!isObject(labels)) return this._apply(native.inc, this._target(undefined), labels === undefined ? 1 : labels, 'Delta');
    if (value === undefined) value = 1;
    if (typeof value !== 'number') throw badNumber(value, 'Delta');
    return this._apply(native.inc, this._seriesOf(labels), value, 'Delta');
  }

  dec(labels, value) {
    if (!isObject(labels)) return this._apply(native.dec, this._target(undefined), labels === undefined ? 1 : labels, 'Delta');
    if (value === undefined) value = 1;
    if (typeof value !== 'number') throw badNumber(value, 'Delta');
    return this._apply(native.dec, this._seriesOf(labels), value, 'Delta');
  }

  setToCurrentTime(labels) {
    const now = Date.now() / 1000;
    if (labels === undefined) this.set(now);
    else this.set(labels, now);
  }

  startTimer(labels) {
    const start = performance.now();
    return endLabels => {
      const value = elapsedSince(start);
      this.set(Object.assign({}, labels, endLabels), value);
      return value;
    };
  }

  labels(...args) {
    return this._child(args, (s, labels) => new GaugeChild(this, s, labels));
  }

  // A gauge's reset() zeroes this process's values and keeps the series:
  // removing them would remove every other process's values too.
  reset() {
    for (const s of this._byKey.values()) native.set(s, 0);
    if (this._s > 0) native.set(this._s, 0);
  }
}

// ---- Histogram --------------------------------------------------------------------

const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function observedValue(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw badNumber(value);
  return value;
}

class ObserveChild {
  constructor(metric, s, labels) {
    this._m = metric;
    this._s = s;
    this._labels = labels;
  }

  observe(value) {
    const rc = native.observe(this._s, observedValue(value));
    if (rc !== undefined) this._m._failed(rc, this._s);
  }

  startTimer() {
    const start = performance.now();
    return endLabels => {
      const value = elapsedSince(start);
      if (endLabels) this._m.observe(Object.assign({}, this._labels, endLabels), value);
      else this.observe(value);
      return value;
    };
  }
}

// Histogram and Summary: observe(labels?, value) as prom-client reads it.
class Observing extends Metric {
  observe(labels, value) {
    let s;
    if (labels !== null && typeof labels === 'object') {
      s = this._seriesOf(labels);
      value = observedValue(value);
    } else {
      // prom-client reads a falsy first argument other than 0 (NaN, null,
      // false) as "no labels" and the second as the value: same errors here.
      value = observedValue(!labels && labels !== 0 ? value : labels);
      s = this._s >= 0 ? this._s : this._unlabelled();
    }
    const rc = native.observe(s, value);
    if (rc !== undefined) this._failed(rc, s);
  }

  startTimer(labels) {
    const start = performance.now();
    return endLabels => {
      const value = elapsedSince(start);
      if (labels === undefined && endLabels === undefined) this.observe(value);
      else this.observe(Object.assign({}, labels, endLabels), value);
      return value;
    };
  }

  labels(...args) {
    return this._child(args, (s, labels) => new ObserveChild(this, s, labels));
  }
}

class Histogram extends Observing {
  constructor(config) {
    super(config, { buckets: DEFAULT_BUCKETS }, 'histogram');
    this.upperBounds = this.buckets;
    if (this.enableExemplars) this.observe = this._observeWithExemplar;
  }

  _checkLabelNames() {
    for (const label of this.labelNames) if (label === 'le') throw new Error('le is a reserved label keyword');
  }

  _definition(mode) {
    return Object.assign(super._definition(mode), { buckets: this.buckets });
  }

  _observeWithExemplar({ labels = {}, value, exemplarLabels = {} } = {}) {
    const s = this._seriesOf(labels);
    const v = observedValue(value);
    const rc = Object.keys(exemplarLabels).length ? native.observeExemplar(s, v, exemplarLabels) : native.observe(s, v);
    if (rc !== undefined) this._failed(rc, s);
  }

  zero(labels) {
    validateLabel(this.labelNames, labels || {});
    this._seriesOf(labels || {});
  }

  _values(series) {
    const out = [];
    for (const s of series) {
      for (const b of s.buckets) {
        out.push({ labels: Object.assign({ le: bound(b.le) }, s.labels), value: num(b.count), metricName: `${this.name}_bucket` });
      }
      out.push({ labels: s.labels, value: num(s.sum), metricName: `${this.name}_sum` });
      out.push({ labels: s.labels, value: num(s.count), metricName: `${this.name}_count` });
    }
    return out;
  }
}

// ---- Summary ----------------------------------------------------------------------

const DEFAULT_PERCENTILES = [0.01, 0.05, 0.5, 0.9, 0.95, 0.99, 0.999];

class Summary extends Observing {
  constructor(config) {
    super(config, { percentiles: DEFAULT_PERCENTILES }, 'summary');
  }

  _checkLabelNames() {
    for (const label of this.labelNames) if (label === 'quantile') throw new Error('quantile is a reserved label keyword');
  }

  _definition(mode) {
    return Object.assign(super._definition(mode), { buckets: this.percentiles });
  }

  _values(series) {
    const out = [];
    for (const s of series) {
      for (const q of s.quantiles || []) {
        out.push({ labels: Object.assign({ quantile: Number(q.quantile) }, s.labels), value: num(q.value) });
      }
      out.push({ metricName: `${this.name}_sum`, labels: s.labels, value: num(s.sum) });
      out.push({ metricName: `${this.name}_count`, labels: s.labels, value: num(s.count) });
    }
    return out;
  }
}

module.exports = { Counter, Gauge, Histogram, Summary, DEFAULT_BUCKETS, NO_SERIES };
