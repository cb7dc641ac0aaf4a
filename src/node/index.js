'use strict';
// fastprom for Node.js: prom-client 15's API, recorded in fastprom's shared
// segment, which every process of the app writes and fastprom-fcgi serves on
// /metrics behind nginx. Switch an app by changing its require:
//
//     const client = require('fastprom');        // was: require('prom-client')
//
// See README.md ("Node.js") for what differs from prom-client and why.

const native = require('./lib/native');
const { Registry, globalRegistry, PROMETHEUS_CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE } = require('./lib/registry');
const { Counter, Gauge, Histogram, Summary } = require('./lib/types');
const { stats, setCollectInterval, runCollectors } = require('./lib/metric');
const validation = require('./lib/validation');
const segments = require('./lib/segment');
const { collectDefaultMetrics, metricsList } = require('./lib/default-metrics');
const { AggregatorRegistry, aggregators } = require('./lib/cluster');

collectDefaultMetrics.metricsList = metricsList;

class Pushgateway {
  constructor() {
    throw new Error('fastprom: Pushgateway is not available in the Node package: render the segment with ' +
      '`fastprom dump` and push it with curl, or keep this job on prom-client');
  }
}

module.exports = {
  register: globalRegistry,
  Registry,
  contentType: PROMETHEUS_CONTENT_TYPE,
  prometheusContentType: PROMETHEUS_CONTENT_TYPE,
  openMetricsContentType: OPENMETRICS_CONTENT_TYPE,
  validateMetricName: validation.validateMetricName,
  Counter,
  Gauge,
  Histogram,
  Summary,
  Pushgateway,
  linearBuckets: validation.linearBuckets,
  exponentialBuckets: validation.exponentialBuckets,
  collectDefaultMetrics,
  aggregators,
  AggregatorRegistry,
  // fastprom's own
  version: native.version(),
  addonPath: native.file,
  setCollectInterval,
  runCollectors,
  segmentInfo() {
    const seg = segments.sharedSegment();
    return { path: seg.label, private: seg.isPrivate, stat: seg.stat() };
  },
  droppedInProcess() {
    return { updates: stats.droppedUpdates, series: stats.droppedSeries };
  },
};
