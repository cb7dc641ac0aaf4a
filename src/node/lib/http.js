'use strict';
// What the Express and Fastify middleware share: the four HTTP families with
// the names, labels, buckets and gauge mode of the Python middleware
// (src/python/fastprom/_http.py), so Python and Node apps can write one
// segment and deploy/prometheus's rules and the dashboard work unchanged:
//
//   http_requests_total{method,route,status}              counter
//   http_request_duration_seconds{method,route}           histogram
//   http_requests_in_progress{method,route}               gauge, livesum
//   http_request_exceptions_total{method,route,exception} counter
//
// Label values stay bounded: route is the framework's template or one
// fallback value (never the raw URL), method a standard method or OTHER,
// status the numeric code (499: the client went away first). Recording
// never breaks a request: a series the segment refuses is dropped and
// counted by the library.

const { performance } = require('perf_hooks');
const { Counter, Gauge, Histogram } = require('./types');
const { globalRegistry } = require('./registry');

// prometheus_client's default buckets: the Python middleware's, so both
// define http_request_duration_seconds identically in a shared segment.
const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const STANDARD_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
const DEFAULT_LABEL_NAMES = { method: 'method', route: 'route', status: 'status', exception: 'exception' };
const CLIENT_CLOSED = 499;

const bundles = new Map();

class HttpMetrics {
  constructor(namespace, buckets, labelNames, registry) {
    const n = Object.assign({}, DEFAULT_LABEL_NAMES, labelNames);
    const unknown = Object.keys(n).filter(k => !(k in DEFAULT_LABEL_NAMES));
    if (unknown.length) {
      throw new Error(`fastprom: labelNames keys must be among ${Object.keys(DEFAULT_LABEL_NAMES).join(', ')}, ` +
        `not ${unknown.join(', ')}`);
    }
    const p = namespace ? `${namespace}_` : '';
    const registers = [registry];
    // An app may already have made one of these (two middleware instances,
    // or its own code): reuse what the registry has.
    const make = (Type, config) => registry.getSingleMetric(config.name) || new Type(Object.assign({ registers }, config));
    this.requests = make(Counter, {
      name: `${p}http_requests_total`, help: 'HTTP requests by method, route template and status.',
      labelNames: [n.method, n.route, n.status],
    });
    this.duration = make(Histogram, {
      name: `${p}http_request_duration_seconds`,
      help: 'HTTP request duration in seconds, to the last byte of the response.',
      labelNames: [n.method, n.route], buckets,
    });
    this.inProgress = make(Gauge, {
      name: `${p}http_requests_in_progress`, help: 'HTTP requests being handled now.',
      labelNames: [n.method, n.route], aggregator: 'livesum',
    });
    this.exceptions = make(Counter, {
      name: `${p}http_request_exceptions_total`,
      help: 'HTTP requests that raised, by method, route template and exception type.',
      labelNames: [n.method, n.route, n.exception],
    });
    // Children by label values: one Map lookup per request. Bounded: the labels are.
    this.byRoute = new Map();
    this.byStatus = new Map();
  }

  routeChildren(method, route) {
    const key = `${method} ${route}`;
    let pair = this.byRoute.get(key);
    if (pair === undefined) {
      pair = [this.duration.labels(method, route), this.inProgress.labels(method, route)];
      this.byRoute.set(key, pair);
    }
    return pair;
  }

  requestsChild(method, route, status) {
    const key = `${method} ${status} ${route}`;
    let child = this.byStatus.get(key);
    if (child === undefined) {
      child = this.requests.labels(method, route, status);
      this.byStatus.set(key, child);
    }
    return child;
  }
}

function httpMetrics(options = {}) {
  const registry = options.registry || globalRegistry;
  const buckets = options.buckets || DEFAULT_BUCKETS;
  const key = JSON.stringify([options.namespace || '', buckets, options.labelNames || {}]);
  let perRegistry = bundles.get(registry);
  if (!perRegistry) bundles.set(registry, (perRegistry = new Map()));
  let bundle = perRegistry.get(key);
  if (!bundle) {
    bundle = new HttpMetrics(options.namespace || '', buckets, options.labelNames, registry);
    perRegistry.set(key, bundle);
  }
  return bundle;
}

function boundedMethod(method) {
  return STANDARD_METHODS.has(method) ? method : 'OTHER';
}

// excludedPaths: strings (regular expressions, as in the Python middleware)
// or RegExps, matched at the start of the path.
function compileExcluded(paths) {
  if (!paths) return [];
  if (!Array.isArray(paths)) paths = [paths];
  return paths.map(p => (p instanceof RegExp ? new RegExp(`^(?:${p.source})`, p.flags.replace('g', '')) : new RegExp(`^(?:${p})`)));
}

function isExcluded(patterns, path) {
  for (let i = 0; i < patterns.length; i++) if (patterns[i].test(path)) return true;
  return false;
}

function exceptionName(err) {
  if (err && err.constructor && err.constructor.name) return err.constructor.name;
  return typeof err;
}

// One request: in progress from setRoute() to finish().
class RequestRecord {
  constructor(metrics, method) {
    this.metrics = metrics;
    this.method = method;
    this.route = null;
    this.start = performance.now();
    this.exception = null;
    this.children = null;
    this.done = false;
  }

  setRoute(route) {
    if (this.route !== null || this.done) return;
    this.route = route;
    const children = this.metrics.routeChildren(this.method, route);
    children[1].inc();
    this.children = children;
  }

  finish(unmatched, status, exception) {
    if (this.done) return;
    this.done = true;
    const duration = (performance.now() - this.start) / 1000;
    const route = this.route !== null ? this.route : unmatched;
    const exc = exception || this.exception;
    const m = this.metrics;
    let children = this.children;
    if (children !== null) children[1].dec();
    else children = m.routeChildren(this.method, route);
    m.requestsChild(this.method, route, String(status || 500)).inc();
    children[0].observe(duration > 0 ? duration : 0);
    if (exc) m.exceptions.labels(this.method, route, exceptionName(exc)).inc();
  }
}

function options(opts = {}) {
  return {
    metrics: httpMetrics(opts),
    excluded: compileExcluded(opts.excludedPaths),
    unmatched: opts.groupUnmatched || '__unknown__',
  };
}

module.exports = { DEFAULT_BUCKETS, CLIENT_CLOSED, RequestRecord, boundedMethod, isExcluded, options, httpMetrics };
