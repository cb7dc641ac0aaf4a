'use strict';
// Registry: prom-client's registry over fastprom segments.
//
// A metric's values live in a segment, not in the registry: every process of
// the app writes the same shared segment and fastprom-fcgi serves it. A
// registry is the name table prom-client has (one name, one metric, per
// process) and a view for metrics(): the global `register` shows the whole
// shared segment (every process's families, and this process's private
// fallbacks), any other Registry the families registered in it.
//
// fastprom extensions: new Registry(contentType, {path}) puts the metrics
// registered first in it into another segment file; {private: true} into the
// process's private segment (nothing any other process sees: for tests).

const segments = require('./segment');
const { FORMAT_TEXT, FORMAT_OPENMETRICS, FORMAT_JSON, RENDER_NO_EOF } = segments;

const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

// {private: true} registries have a segment of their own, 1 MiB unless
// options.size says otherwise, closed when the registry (and so its metrics,
// which reference it) is garbage-collected.
const PRIVATE_REGISTRY_SIZE = 1 << 20;
const closeWhenCollected = new FinalizationRegistry(seg => seg.close());

class Registry {
  static get PROMETHEUS_CONTENT_TYPE() {
    return PROMETHEUS_CONTENT_TYPE;
  }

  static get OPENMETRICS_CONTENT_TYPE() {
    return OPENMETRICS_CONTENT_TYPE;
  }

  constructor(regContentType = PROMETHEUS_CONTENT_TYPE, options = {}) {
    if (regContentType !== PROMETHEUS_CONTENT_TYPE && regContentType !== OPENMETRICS_CONTENT_TYPE) {
      throw new TypeError(`Content type ${regContentType} is unsupported`);
    }
    this._metrics = {};
    this._defaultLabels = {};
    this._contentType = regContentType;
    this._options = options || {};
    this._whole = false; // true for the global registry: shows the whole segment
    this._own = null; // the segment of a {private: true} registry
  }

  // The segment a metric registered first here records into.
  _segment() {
    const o = this._options;
    if (o.private) {
      if (!this._own) {
        this._own = segments.newPrivate(o.size || PRIVATE_REGISTRY_SIZE);
        closeWhenCollected.register(this, this._own);
      }
      return this._own;
    }
    if (o.path) return segments.namedSegment(o.path, o);
    return segments.sharedSegment();
  }

  getMetricsAsArray() {
    return Object.values(this._metrics);
  }

  _format() {
    return this._contentType === OPENMETRICS_CONTENT_TYPE ? FORMAT_OPENMETRICS : FORMAT_TEXT;
  }

  async _collect(metrics) {
    await Promise.all(metrics.map(m => m._runCollect()));
  }

  // One exposition over the segments holding metrics (whole segments for the
  // global registry), OpenMetrics' "# EOF" only at the end.
  _render(metrics, format, whole) {
    const parts = [];
    if (whole) {
      const shared = segments.sharedSegment();
      parts.push([shared, null]);
      if (segments.hasPrivate() && segments.privateSegment() !== shared) parts.push([segments.privateSegment(), null]);
    } else {
      const bySeg = new Map();
      for (const m of metrics) {
        if (!bySeg.has(m._seg)) bySeg.set(m._seg, []);
        bySeg.get(m._seg).push(m.name);
      }
      for (const [seg, names] of bySeg) parts.push([seg, names]);
    }
    const texts = parts.map(([seg, names], i) =>
      seg.render(format, names, format === FORMAT_OPENMETRICS && i < parts.length - 1 ? RENDER_NO_EOF : 0));
    // A family in two segments (this process's definition fell back to the
    // private segment because another process defined it differently) is
    // shown once, as this process recorded it: an exposition may not name a
    // family twice, and /metrics shows the other definition anyway.
    const later = new Set();
    for (let i = texts.length - 1; i >= 0; i--) {
      const text = texts[i];
      if (i < texts.length - 1) texts[i] = dropFamilies(text, later);
      for (const m of text.matchAll(/^# TYPE (\S+)/gm)) later.add(m[1]);
    }
    let out = texts.join('');
    if (!parts.length && format === FORMAT_OPENMETRICS) out = '# EOF\n';
    return addDefaultLabels(out, this._defaultLabels);
  }

  async getMetricsAsString(metric) {
    await metric._runCollect();
    const text = this._render([metric], FORMAT_TEXT, false);
    return text.endsWith('\n') ? text.slice(0, -1) : text;
  }

  async metrics() {
    const metrics = this.getMetricsAsArray();
    await this._collect(metrics);
    return this._render(metrics, this._format(), this._whole);
  }

  registerMetric(metric) {
    if (this._metrics[metric.name] && this._metrics[metric.name] !== metric) {
      throw new Error(`A metric with the name ${metric.name} has already been registered.`);
    }
    this._metrics[metric.name] = metric;
  }

  clear() {
    this._metrics = {};
    this._defaultLabels = {};
  }

  async getMetricsAsJSON() {
    const items = await Promise.all(this.getMetricsAsArray().map(m => m.get()));
    const names = Object.keys(this._defaultLabels);
    if (names.length) {
      for (const item of items) {
        for (const val of item.values) {
          val.labels = Object.assign({}, val.labels);
          for (const n of names) val.labels[n] = val.labels[n] || this._defaultLabels[n];
        }
      }
    }
    return items;
  }

  removeSingleMetric(name) {
    delete this._metrics[name];
  }

  getSingleMetricAsString(name) {
    return this.getMetricsAsString(this._metrics[name]);
  }

  getSingleMetric(name) {
    return this._metrics[name];
  }

  setDefaultLabels(labels) {
    this._defaultLabels = labels;
  }

  resetMetrics() {
    for (const name in this._metrics) this._metrics[name].reset();
  }

  get contentType() {
    return this._contentType;
  }

  setContentType(metricsContentType) {
    if (metricsContentType !== OPENMETRICS_CONTENT_TYPE && metricsContentType !== PROMETHEUS_CONTENT_TYPE) {
      throw new Error(`Content type ${metricsContentType} is unsupported`);
    }
    this._contentType = metricsContentType;
  }

  static merge(registers) {
    const regType = registers[0].contentType;
    for (const reg of registers) {
      if (reg.contentType !== regType) throw new Error('Registers can only be merged if they have the same content type');
    }
    const merged = new Registry(regType);
    for (const reg of registers) reg.getMetricsAsArray().forEach(merged.registerMetric, merged);
    return merged;
  }
}

// The exposition without the families named in `names`.
function dropFamilies(text, names) {
  if (!names.size) return text;
  const out = [];
  let family = null;
  let skip = false;
  for (const line of text.split('\n')) {
    const m = /^# (?:HELP|TYPE|UNIT) (\S+)/.exec(line);
    if (m && m[1] !== family) {
      family = m[1];
      skip = names.has(family);
    }
    if (!skip || line === '# EOF') out.push(line);
  }
  return out.join('\n');
}

// ---- default labels: added to every sample of this registry's output ---------

// Splits a label block `a="x",b="y\"z"` (without braces) into its names.
function labelNamesIn(block) {
  const names = [];
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
  let m;
  while ((m = re.exec(block)) !== null) names.push(m[1]);
  return names;
}

function escapeLabelValue(v) {
  return String(v).replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function addDefaultLabels(text, defaults) {
  const keys = Object.keys(defaults || {});
  if (!keys.length) return text;
  return text.split('\n').map(line => {
    if (!line || line[0] === '#') return line;
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!m) return line;
    const name = m[0];
    let rest = line.slice(name.length);
    let own = [];
    let block = '';
    if (rest[0] === '{') {
      // The label block ends at the first } outside a quoted value.
      const end = /^\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\}/.exec(rest);
      if (!end) return line;
      block = end[1];
      own = labelNamesIn(block);
      rest = rest.slice(end[0].length);
    }
    const extra = keys.filter(k => !own.includes(k)).map(k => `${k}="${escapeLabelValue(defaults[k])}"`);
    if (!extra.length) return line;
    const all = block ? `${block},${extra.join(',')}` : extra.join(',');
    return `${name}{${all}}${rest}`;
  }).join('\n');
}

const globalRegistry = new Registry();
globalRegistry._whole = true;

module.exports = {
  Registry, globalRegistry, PROMETHEUS_CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE, FORMAT_JSON, addDefaultLabels,
};
