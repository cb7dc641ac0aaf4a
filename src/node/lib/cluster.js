'use strict';
// node:cluster without IPC: prom-client's AggregatorRegistry asks every worker
// for its registry on each scrape; with fastprom every worker already writes
// the shared segment, so clusterMetrics() renders it, in any process, and a
// worker needs no setup. The aggregators live in the segment as gauge modes.

const { Registry, globalRegistry } = require('./registry');

class AggregatorRegistry extends Registry {
  constructor(regContentType, options) {
    super(regContentType, options);
    this._whole = true;
  }

  // The exposition of every process's metrics (the shared segment).
  async clusterMetrics() {
    const metrics = globalRegistry.getMetricsAsArray();
    await globalRegistry._collect(metrics);
    return globalRegistry._render(metrics, this._format(), true);
  }

  static aggregate() {
    throw new Error('fastprom: AggregatorRegistry.aggregate() is not needed: the segment already holds every ' +
      "worker's values; use clusterMetrics() or register.metrics()");
  }

  static setRegistries() {}
}

// Names only: the segment combines processes itself (Gauge aggregator option).
const aggregators = { sum: 'sum', first: 'first', min: 'min', max: 'max', omit: 'omit' };

module.exports = { AggregatorRegistry, aggregators };
