// TypeScript declarations of the fastprom Node package: prom-client 15's API
// (what a service written against prom-client uses), plus fastprom's own.

export type LabelValues<T extends string> = Partial<Record<T, string | number>>;

export type Aggregator = 'sum' | 'max' | 'min' | 'first' | 'omit' | 'livesum' | 'all' | 'liveall' | 'livemax'
  | 'livemin' | 'mostrecent' | 'livemostrecent';

export interface RegistryOptions {
  /** Another segment file for the metrics registered first in this registry. */
  path?: string;
  /** The process's private segment (seen by no other process): for tests. */
  private?: boolean;
}

export class Registry {
  static readonly PROMETHEUS_CONTENT_TYPE: string;
  static readonly OPENMETRICS_CONTENT_TYPE: string;
  constructor(regContentType?: string, options?: RegistryOptions);
  metrics(): Promise<string>;
  clear(): void;
  resetMetrics(): void;
  registerMetric(metric: Metric<string>): void;
  getMetricsAsJSON(): Promise<MetricObjectWithValues<MetricValue<string>>[]>;
  getMetricsAsArray(): Metric<string>[];
  removeSingleMetric(name: string): void;
  getSingleMetric(name: string): Metric<string> | undefined;
  setDefaultLabels(labels: object): void;
  getSingleMetricAsString(name: string): Promise<string>;
  readonly contentType: string;
  setContentType(contentType: string): void;
  static merge(registers: Registry[]): Registry;
}

export class AggregatorRegistry extends Registry {
  clusterMetrics(): Promise<string>;
  static setRegistries(regs: Registry | Registry[]): void;
}

export const register: Registry;
export const contentType: string;
export const prometheusContentType: string;
export const openMetricsContentType: string;

export interface MetricValue<T extends string> {
  value: number;
  labels: LabelValues<T>;
}

export interface MetricValueWithName<T extends string> extends MetricValue<T> {
  metricName?: string;
}

export interface MetricObjectWithValues<T> {
  name: string;
  help: string;
  type: string;
  aggregator: Aggregator;
  values: T[];
}

export interface MetricConfiguration<T extends string> {
  name: string;
  help: string;
  labelNames?: readonly T[];
  registers?: Registry[];
  aggregator?: Aggregator;
  /** Runs when this process renders and every setCollectInterval() ms. */
  collect?: (this: any) => void | Promise<void>;
  enableExemplars?: boolean;
}

export abstract class Metric<T extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly T[];
  readonly aggregator: Aggregator;
  reset(): void;
  remove(...values: Array<string | number>): void;
  remove(labels: LabelValues<T>): void;
}

export interface CounterConfiguration<T extends string> extends MetricConfiguration<T> {}

export class Counter<T extends string = string> extends Metric<T> {
  constructor(configuration: CounterConfiguration<T>);
  inc(value?: number): void;
  inc(labels: LabelValues<T>, value?: number): void;
  inc(options: { labels?: LabelValues<T>; value?: number; exemplarLabels?: Record<string, string> }): void;
  get(): Promise<MetricObjectWithValues<MetricValue<T>>>;
  labels(...values: Array<string | number>): Counter.Internal;
  labels(labels: LabelValues<T>): Counter.Internal;
}

export declare namespace Counter {
  interface Internal {
    inc(value?: number): void;
  }
}

export interface GaugeConfiguration<T extends string> extends MetricConfiguration<T> {}

export class Gauge<T extends string = string> extends Metric<T> {
  constructor(configuration: GaugeConfiguration<T>);
  inc(value?: number): void;
  inc(labels: LabelValues<T>, value?: number): void;
  dec(value?: number): void;
  dec(labels: LabelValues<T>, value?: number): void;
  set(value: number): void;
  set(labels: LabelValues<T>, value: number): void;
  setToCurrentTime(labels?: LabelValues<T>): void;
  startTimer(labels?: LabelValues<T>): (labels?: LabelValues<T>) => number;
  get(): Promise<MetricObjectWithValues<MetricValue<T>>>;
  labels(...values: Array<string | number>): Gauge.Internal;
  labels(labels: LabelValues<T>): Gauge.Internal;
}

export declare namespace Gauge {
  interface Internal {
    inc(value?: number): void;
    dec(value?: number): void;
    set(value: number): void;
    setToCurrentTime(): void;
    startTimer(): (labels?: object) => number;
  }
}

export interface HistogramConfiguration<T extends string> extends MetricConfiguration<T> {
  buckets?: number[];
}

export class Histogram<T extends string = string> extends Metric<T> {
  constructor(configuration: HistogramConfiguration<T>);
  observe(value: number): void;
  observe(labels: LabelValues<T>, value: number): void;
  observe(options: { labels?: LabelValues<T>; value: number; exemplarLabels?: Record<string, string> }): void;
  startTimer(labels?: LabelValues<T>): (labels?: LabelValues<T>) => number;
  zero(labels: LabelValues<T>): void;
  get(): Promise<MetricObjectWithValues<MetricValueWithName<T>>>;
  labels(...values: Array<string | number>): Histogram.Internal;
  labels(labels: LabelValues<T>): Histogram.Internal;
}

export declare namespace Histogram {
  interface Internal {
    observe(value: number): void;
    startTimer(): (labels?: object) => number;
  }
}

export interface SummaryConfiguration<T extends string> extends MetricConfiguration<T> {
  /** Quantiles over the whole life of the segment (no sliding window). */
  percentiles?: number[];
  maxAgeSeconds?: number;
  ageBuckets?: number;
  pruneAgedBuckets?: boolean;
  compressCount?: number;
}

export class Summary<T extends string = string> extends Metric<T> {
  constructor(configuration: SummaryConfiguration<T>);
  observe(value: number): void;
  observe(labels: LabelValues<T>, value: number): void;
  startTimer(labels?: LabelValues<T>): (labels?: LabelValues<T>) => number;
  get(): Promise<MetricObjectWithValues<MetricValueWithName<T>>>;
  labels(...values: Array<string | number>): Summary.Internal;
  labels(labels: LabelValues<T>): Summary.Internal;
}

export declare namespace Summary {
  interface Internal {
    observe(value: number): void;
    startTimer(): (labels?: object) => number;
  }
}

export class Pushgateway {
  constructor(url: string, options?: any, registry?: Registry);
}

export function linearBuckets(start: number, width: number, count: number): number[];
export function exponentialBuckets(start: number, factor: number, count: number): number[];
export function validateMetricName(name: string): boolean;

export interface DefaultMetricsCollectorConfiguration<T extends string> {
  register?: Registry;
  prefix?: string;
  gcDurationBuckets?: number[];
  eventLoopMonitoringPrecision?: number;
  labels?: Partial<Record<T, string | number>>;
}

export function collectDefaultMetrics<T extends string>(config?: DefaultMetricsCollectorConfiguration<T>): void;

export const aggregators: Record<'sum' | 'first' | 'min' | 'max' | 'omit', string>;

// ---- fastprom's own -----------------------------------------------------------------

/** libfastprom's version. */
export const version: string;
/** The fastprom.node that was loaded. */
export const addonPath: string;
/** How often collect() callbacks run (ms; default 5000, $FASTPROM_COLLECT_INTERVAL_MS). */
export function setCollectInterval(ms: number): void;
/** Runs every collect() callback now. */
export function runCollectors(): void;
export function segmentInfo(): { path: string; private: boolean; stat: Record<string, number> };
/** Updates and series this process dropped (segment full, series limit). */
export function droppedInProcess(): { updates: number; series: number };
