import type { Gauge, MetricValue, MetricValueWithName } from 'prom-client';
import type { Metrics } from './metrics.js';

/** `route` label of requests that matched no route: one shared value, whatever the URL. */
export const UNMATCHED_ROUTE = 'unmatched';
/** `method` label of methods outside the standard set (the OpenTelemetry convention's value). */
export const OTHER_METHOD = '_OTHER';
/** Status label of requests the client abandoned before the response was written. */
export const CLIENT_CLOSED_REQUEST = 499;

const METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'OPTIONS',
  'PATCH',
  'CONNECT',
  'TRACE',
  OTHER_METHOD,
];
const OTHER_INDEX = METHODS.length - 1;
// A Map, not an object literal: a method named `constructor` must not find Object.prototype.
const METHOD_INDEX = new Map(METHODS.slice(0, OTHER_INDEX).map((method, index) => [method, index]));

/** Marks the metric objects this file registers, so `fastify.metrics` helpers refuse their names. */
export const OWNED = Symbol.for('bulwark.observability.http-metric');

type HttpLabels = { method: string; route: string; status_code: string };

interface Exemplar {
  labelSet: Record<string, string>;
  value: number;
  timestamp: number;
}

/** Running totals of one (method, route, status) label set. */
class SeriesData {
  readonly labels: HttpLabels;
  /** Per-bucket (non-cumulative) counts; the last slot is the +Inf overflow. */
  readonly buckets: Float64Array;
  readonly exemplars: (Exemplar | undefined)[];
  sum = 0;
  /** Observations in the histogram (answered requests). */
  count = 0;
  /** Requests counted by `http_requests_total` (answered and abandoned). */
  total = 0;

  constructor(labels: HttpLabels, bucketCount: number) {
    this.labels = labels;
    this.buckets = new Float64Array(bucketCount + 1);
    this.exemplars = new Array(bucketCount + 1).fill(undefined);
  }
}

/**
 * The series of one route template, one entry per (method, status) and built once, so recording
 * a request allocates nothing.
 */
export class RouteSeries {
  readonly route: string;
  readonly #owner: HttpMetrics;
  readonly #data = new Map<number, SeriesData>();

  constructor(owner: HttpMetrics, route: string) {
    this.#owner = owner;
    this.route = route;
  }

  data(method: string, statusCode: number): SeriesData {
    const index = METHOD_INDEX.get(method) ?? OTHER_INDEX;
    const key = statusCode * 16 + index;
    let data = this.#data.get(key);
    if (data === undefined) {
      const labels = {
        method: METHODS[index] as string,
        route: this.route,
        status_code: String(statusCode),
      };
      data = new SeriesData(labels, this.#owner.bounds.length);
      this.#data.set(key, data);
      this.#owner.all.push(data);
    }
    return data;
  }
}

/**
 * HTTP RED metrics: `http_request_duration_seconds`, `http_requests_total` and
 * `http_requests_in_flight`.
 *
 * The histogram and counter are not prom-client `Histogram`/`Counter` objects: those hash the label
 * object and allocate a closure on every observation (~1 µs a request). Here each label set's
 * totals live in a preallocated {@link SeriesData}, and two small collector objects registered in the
 * same registry render them in prom-client's own value format at scrape time, exemplars included.
 */
export class HttpMetrics {
  /**
   * Requests received and not yet answered; read by the gauge at scrape time.
   * The plugin raises it once per request and lowers it on the response's 'close'.
   */
  inFlight = 0;
  readonly bounds: readonly number[];
  readonly all: SeriesData[] = [];
  readonly unmatched: RouteSeries;
  readonly inFlightGauge: Gauge;
  readonly exemplars: boolean;
  readonly #histogramName: string;

  constructor(metrics: Metrics, buckets: readonly number[], exemplars: boolean) {
    this.bounds = [...buckets].sort((a, b) => a - b);
    this.exemplars = exemplars;
    this.unmatched = new RouteSeries(this, UNMATCHED_ROUTE);
    const registry = metrics.registry;
    const prefix = metrics.prefix;
    this.#histogramName = `${prefix}http_request_duration_seconds`;
    const self = this;
    registry.registerMetric(
      collector(
        this.#histogramName,
        'Duration of HTTP requests, by method, route template and status code, in seconds.',
        'histogram',
        () => self.#histogramValues(),
        () => self.#reset(),
      ),
    );
    registry.registerMetric(
      collector(
        `${prefix}http_requests_total`,
        'HTTP requests answered, by method, route template and status code (499: abandoned by the client).',
        'counter',
        () => self.all.map((data) => ({ labels: { ...data.labels }, value: data.total })),
        () => self.#reset(),
      ),
    );
    this.inFlightGauge = metrics.gauge({
      name: 'http_requests_in_flight',
      help: 'HTTP requests received and not yet answered.',
      collect() {
        this.set(self.inFlight);
      },
    });
  }

  /** A new route's series. */
  route(template: string): RouteSeries {
    return new RouteSeries(this, template);
  }

  /** Records one answered request. `traceId` becomes its bucket's exemplar when exemplars are on. */
  record(
    series: RouteSeries,
    method: string,
    statusCode: number,
    seconds: number,
    traceId: string | undefined,
  ): void {
    const data = series.data(method, statusCode);
    const bounds = this.bounds;
    let bucket = 0;
    while (bucket < bounds.length && seconds > (bounds[bucket] as number)) bucket++;
    data.buckets[bucket] = (data.buckets[bucket] as number) + 1;
    data.sum += seconds;
    data.count++;
    data.total++;
    if (traceId !== undefined && this.exemplars) {
      data.exemplars[bucket] = {
        labelSet: { trace_id: traceId },
        value: seconds,
        timestamp: Date.now() / 1000,
      };
    }
  }

  /**
   * Records a request the client abandoned before its response was written: counted with
   * `status_code="499"` (the de facto "client closed request" code), not observed in the histogram.
   */
  recordAbort(series: RouteSeries, method: string): void {
    series.data(method, CLIENT_CLOSED_REQUEST).total++;
  }

  #reset(): void {
    for (const data of this.all) {
      data.buckets.fill(0);
      data.exemplars.fill(undefined);
      data.sum = 0;
      data.count = 0;
      data.total = 0;
    }
  }

  #histogramValues(): MetricValueWithName<string>[] {
    const values: MetricValueWithName<string>[] = [];
    const bounds = this.bounds;
    const name = this.#histogramName;
    for (const data of this.all) {
      if (data.count === 0) continue;
      let cumulative = 0;
      for (let i = 0; i <= bounds.length; i++) {
        cumulative += data.buckets[i] as number;
        const value: MetricValueWithName<string> & { exemplar?: Exemplar } = {
          labels: { le: i < bounds.length ? (bounds[i] as number) : '+Inf', ...data.labels },
          value: cumulative,
          metricName: `${name}_bucket`,
        };
        const exemplar = data.exemplars[i];
        if (exemplar !== undefined) value.exemplar = exemplar;
        values.push(value);
      }
      values.push(
        {
          labels: { ...data.labels },
          value: data.sum,
          metricName: `${name}_sum`,
        },
        {
          labels: { ...data.labels },
          value: data.count,
          metricName: `${name}_count`,
        },
      );
    }
    return values;
  }
}

function collector(
  name: string,
  help: string,
  type: 'histogram' | 'counter',
  values: () => MetricValue<string>[],
  reset: () => void,
) {
  // The shape prom-client's Registry reads: `name`, `help`, `type`, `aggregator`, `get()`, `reset()`.
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum' as const,
    [OWNED]: true,
    async get() {
      return { name: metric.name, help, type, aggregator: 'sum', values: values() };
    },
    reset,
  };
  // biome-ignore lint/suspicious/noExplicitAny: registered alongside prom-client's own metric classes
  return metric as any;
}
