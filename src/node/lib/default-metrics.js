'use strict';
// collectDefaultMetrics(): prom-client's nodejs_* families, recorded by each
// process into the segment from the collect timer (every setCollectInterval
// ms, default 5 s) and when this process renders.
//
// Combined across processes as prom-client's cluster mode combines them,
// where the segment has the mode: sums (heap, handles, resources) are
// livesum, lag min/max livemin/livemax, version info mostrecent. prom-client
// averages the lag mean, stddev and percentiles; the segment has no average,
// so those are livemax: the worst process (documented in the README).
// prom-client's process_* figures are recorded as nodejs_process_*: on
// /metrics the process_* names are fastprom-fcgi's own (it drops application
// families of that prefix). CPU seconds are counters fed with each interval's
// delta, so the sum over processes survives a worker's death; memory and
// descriptors are livesum gauges (the app's processes together).

const fs = require('fs');
const v8 = require('v8');
const perfHooks = require('perf_hooks');
const { Counter, Gauge, Histogram } = require('./types');
const { isObject } = require('./validation');

const GC_BUCKETS = [0.001, 0.01, 0.1, 1, 2, 5];

function gcKinds() {
  const k = [];
  const c = perfHooks.constants || {};
  k[c.NODE_PERFORMANCE_GC_MAJOR] = 'major';
  k[c.NODE_PERFORMANCE_GC_MINOR] = 'minor';
  k[c.NODE_PERFORMANCE_GC_INCREMENTAL] = 'incremental';
  k[c.NODE_PERFORMANCE_GC_WEAKCB] = 'weakcb';
  return k;
}

function countByName(list) {
  const out = {};
  for (const item of list) {
    if (!item || typeof item.constructor === 'undefined') continue;
    const name = typeof item === 'string' ? item : item.constructor.name;
    out[name] = (out[name] || 0) + 1;
  }
  return out;
}

function collectDefaultMetrics(config) {
  if (config !== null && config !== undefined && !isObject(config)) {
    throw new TypeError('config must be null, undefined, or an object');
  }
  config = Object.assign({ eventLoopMonitoringPrecision: 10 }, config);
  const prefix = config.prefix || '';
  const labels = config.labels || {};
  const extra = Object.keys(labels);
  const registers = config.register ? [config.register] : undefined;
  const gauge = (name, help, aggregator, labelNames = []) =>
    new Gauge({ name: prefix + name, help, aggregator, registers, labelNames: [...labelNames, ...extra] });
  const withLabels = more => Object.assign({}, more, labels);

  const lag = gauge('nodejs_eventloop_lag_seconds', 'Lag of event loop in seconds.', 'max');
  const lagMin = gauge('nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay.', 'min');
  const lagMax = gauge('nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.', 'max');
  const lagMean = gauge('nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays.', 'max');
  const lagStddev = gauge('nodejs_eventloop_lag_stddev_seconds', 'The standard deviation of the recorded event loop delays.', 'max');
  const lagP50 = gauge('nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the recorded event loop delays.', 'max');
  const lagP90 = gauge('nodejs_eventloop_lag_p90_seconds', 'The 90th percentile of the recorded event loop delays.', 'max');
  const lagP99 = gauge('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays.', 'max');
  const delay = perfHooks.monitorEventLoopDelay({ resolution: config.eventLoopMonitoringPrecision });
  delay.enable();

  const byType = [];
  const typed = (name, help, list) => {
    const g = gauge(name, help, 'sum', ['type']);
    const total = gauge(`${name}_total`, help.replace(/ grouped by .*/, '').replace(/^Number of/, 'Total number of') + '.', 'sum');
    byType.push({ g, total, list, seen: new Set() });
  };
  if (typeof process.getActiveResourcesInfo === 'function') {
    typed('nodejs_active_resources', 'Number of active resources that are currently keeping the event loop alive, ' +
      'grouped by async resource type.', () => process.getActiveResourcesInfo());
  }
  if (typeof process._getActiveHandles === 'function') {
    typed('nodejs_active_handles', 'Number of active libuv handles grouped by handle type. Every handle type is C++ ' +
      'class name.', () => process._getActiveHandles());
  }
  if (typeof process._getActiveRequests === 'function') {
    typed('nodejs_active_requests', 'Number of active libuv requests grouped by request type. Every request type is ' +
      'C++ class name.', () => process._getActiveRequests());
  }

  const heapTotal = gauge('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', 'sum');
  const heapUsed = gauge('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', 'sum');
  const external = gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.', 'sum');
  const spaces = {};
  for (const kind of ['total', 'used', 'available']) {
    spaces[kind] = gauge(`nodejs_heap_space_size_${kind}_bytes`, `Process heap space size ${kind} from Node.js in bytes.`,
      'sum', ['space']);
  }
  const counter = (name, help) => new Counter({ name: prefix + name, help, registers, labelNames: extra });
  const cpuUser = counter('nodejs_process_cpu_user_seconds_total', 'User CPU time spent by the Node.js processes in seconds.');
  const cpuSystem = counter('nodejs_process_cpu_system_seconds_total', 'System CPU time spent by the Node.js processes in seconds.');
  const cpuTotal = counter('nodejs_process_cpu_seconds_total', 'User and system CPU time spent by the Node.js processes in seconds.');
  const rss = gauge('nodejs_process_resident_memory_bytes', 'Resident memory size of the Node.js processes in bytes.', 'sum');
  const fds = gauge('nodejs_process_open_fds', 'Open file descriptors of the Node.js processes.', 'sum');
  let lastCpu = process.cpuUsage();
  const versionInfo = gauge('nodejs_version_info', 'Node.js version info.', 'first', ['version', 'major', 'minor', 'patch']);
  const [major, minor, patch] = process.version.slice(1).split('.').map(Number);

  let lagMeasured = false;
  lag.collect = function collect() {
    // Measured on the next turn of the loop; until the first measurement the
    // family shows 0 rather than nothing (a max gauge without a value has no series).
    if (!lagMeasured) lag.set(labels, 0);
    lagMeasured = true;
    const start = process.hrtime.bigint();
    setImmediate(() => lag.set(labels, Number(process.hrtime.bigint() - start) / 1e9));
    lagMin.set(labels, delay.min / 1e9);
    lagMax.set(labels, delay.max / 1e9);
    lagMean.set(labels, delay.mean / 1e9);
    lagStddev.set(labels, delay.stddev / 1e9);
    lagP50.set(labels, delay.percentile(50) / 1e9);
    lagP90.set(labels, delay.percentile(90) / 1e9);
    lagP99.set(labels, delay.percentile(99) / 1e9);
    delay.reset();
    for (const t of byType) {
      const items = t.list();
      const counts = countByName(items);
      // A type that went away reads 0 here: its series stays (other processes may have it).
      for (const type of t.seen) if (!(type in counts)) t.g.set(withLabels({ type }), 0);
      for (const type in counts) {
        t.seen.add(type);
        t.g.set(withLabels({ type }), counts[type]);
      }
      t.total.set(labels, items.length);
    }
    const cpu = process.cpuUsage();
    const user = Math.max(cpu.user - lastCpu.user, 0) / 1e6;
    const system = Math.max(cpu.system - lastCpu.system, 0) / 1e6;
    lastCpu = cpu;
    cpuUser.inc(labels, user);
    cpuSystem.inc(labels, system);
    cpuTotal.inc(labels, user + system);
    try {
      fds.set(labels, fs.readdirSync('/proc/self/fd').length - 1); // less the one readdir opened
    } catch (e) {
      // No /proc (not Linux): the family stays at its last value.
    }
    const mem = process.memoryUsage();
    rss.set(labels, mem.rss);
    heapTotal.set(labels, mem.heapTotal);
    heapUsed.set(labels, mem.heapUsed);
    if (mem.external !== undefined) external.set(labels, mem.external);
    for (const space of v8.getHeapSpaceStatistics()) {
      const name = space.space_name.substr(0, space.space_name.indexOf('_space'));
      spaces.total.set(withLabels({ space: name }), space.space_size);
      spaces.used.set(withLabels({ space: name }), space.space_used_size);
      spaces.available.set(withLabels({ space: name }), space.space_available_size);
    }
    versionInfo.set(withLabels({ version: process.version, major, minor, patch }), 1);
  };
  require('./metric').track(lag);
  lag.collect();

  const gc = new Histogram({
    name: `${prefix}nodejs_gc_duration_seconds`,
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    labelNames: ['kind', ...extra],
    buckets: config.gcDurationBuckets || GC_BUCKETS,
    registers,
  });
  const kinds = gcKinds();
  const obs = new perfHooks.PerformanceObserver(list => {
    for (const entry of list.getEntries()) {
      const kind = kinds[entry.detail ? entry.detail.kind : entry.kind] || 'unknown';
      gc.observe(withLabels({ kind }), entry.duration / 1000);
    }
  });
  obs.observe({ entryTypes: ['gc'] });
}

const metricsList = ['processCpuTotal', 'processOpenFileDescriptors', 'osMemoryHeap', 'eventLoopLag', 'processResources', 'processHandles', 'processRequests', 'heapSizeAndUsed',
  'heapSpacesSizeAndUsed', 'version', 'gc'];

module.exports = { collectDefaultMetrics, metricsList };
