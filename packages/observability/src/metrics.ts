import { performance } from 'node:perf_hooks';
import {
  Counter,
  type CounterConfiguration,
  collectDefaultMetrics,
  Gauge,
  type GaugeConfiguration,
  Histogram,
  type HistogramConfiguration,
  type Metric,
  Registry,
} from 'prom-client';
import { MetricConflictError } from './errors.js';
import { OWNED } from './http-metrics.js';

/**
 * `fastify.metrics`: the prom-client registry owned by this app instance, and idempotent helpers
 * other plugins use to add their metrics to it.
 */
export interface Metrics {
  /** The prom-client registry of this app instance (two apps in one process never share one). */
  readonly registry: Registry;
  /** `metrics.prefix`: prepended to every name the helpers below register. @default '' */
  readonly prefix: string;
  /** Registers a counter (or returns the one already registered under `config.name`). */
  counter<T extends string = string>(config: MetricConfig<CounterConfiguration<T>>): Counter<T>;
  /** Registers a gauge (or returns the one already registered under `config.name`). */
  gauge<T extends string = string>(config: MetricConfig<GaugeConfiguration<T>>): Gauge<T>;
  /** Registers a histogram (or returns the one already registered under `config.name`). */
  histogram<T extends string = string>(
    config: MetricConfig<HistogramConfiguration<T>>,
  ): Histogram<T>;
}

/** prom-client's config object; `registers` is ignored: the metric always goes to `fastify.metrics.registry`. */
export type MetricConfig<C> = Omit<C, 'registers'>;

type MetricType = 'counter' | 'gauge' | 'histogram';

function existing(registry: Registry, name: string, type: MetricType): Metric | undefined {
  const found = registry.getSingleMetric(name) as (Metric & { type?: string }) | undefined;
  if (found === undefined) return undefined;
  if ((found as unknown as Record<symbol, unknown>)[OWNED] === true) {
    throw new MetricConflictError(name, 'HTTP metric owned by @bulwark/observability', type);
  }
  // Compare the type string, not the class: it survives two copies of prom-client.
  if (found.type !== type) throw new MetricConflictError(name, String(found.type), type);
  return found;
}

/**
 * Builds the `fastify.metrics` decorator around a registry. The helpers prepend `prefix` to every
 * name, so one option prefixes every Bulwark family (and any metric the app adds the same way).
 */
export function createMetrics(registry: Registry, prefix = ''): Metrics {
  return {
    registry,
    prefix,
    counter<T extends string>(config: MetricConfig<CounterConfiguration<T>>): Counter<T> {
      const name = prefix + config.name;
      return (
        (existing(registry, name, 'counter') as Counter<T> | undefined) ??
        new Counter<T>({ ...config, name, registers: [registry] })
      );
    },
    gauge<T extends string>(config: MetricConfig<GaugeConfiguration<T>>): Gauge<T> {
      const name = prefix + config.name;
      return (
        (existing(registry, name, 'gauge') as Gauge<T> | undefined) ??
        new Gauge<T>({ ...config, name, registers: [registry] })
      );
    },
    histogram<T extends string>(config: MetricConfig<HistogramConfiguration<T>>): Histogram<T> {
      const name = prefix + config.name;
      return (
        (existing(registry, name, 'histogram') as Histogram<T> | undefined) ??
        new Histogram<T>({ ...config, name, registers: [registry] })
      );
    },
  };
}

/** Node.js default metrics plus `nodejs_eventloop_utilization_ratio` (0..1 since the previous scrape). */
export function registerDefaultMetrics(metrics: Metrics): void {
  collectDefaultMetrics({ register: metrics.registry, prefix: metrics.prefix });
  let last = performance.eventLoopUtilization();
  metrics.gauge({
    name: 'nodejs_eventloop_utilization_ratio',
    help: 'Share of time the event loop was busy since the previous scrape (0..1).',
    collect() {
      const now = performance.eventLoopUtilization();
      this.set(performance.eventLoopUtilization(now, last).utilization);
      last = now;
    },
  });
}

/** Content type of OpenMetrics exposition. */
export const OPENMETRICS_CONTENT_TYPE = Registry.OPENMETRICS_CONTENT_TYPE;
/** Content type of the Prometheus text exposition. */
export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** True when the `Accept` header asks for OpenMetrics. */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return accept?.includes('application/openmetrics-text') === true;
}

interface Renderer {
  getMetricsAsString(metric: unknown): Promise<string>;
}

/**
 * Renders the registry as OpenMetrics without switching its content type.
 *
 * prom-client formats by the registry's single content type, and its OpenMetrics path renames
 * counters in place (strips `_total` from `metric.name` for good), which would corrupt every later
 * Prometheus scrape. So the registry stays Prometheus-typed, and this renders each metric through
 * prom-client's own line formatter on a view that reports the OpenMetrics type, handing counters over
 * as a renamed copy of their data instead of mutating them.
 */
export async function renderOpenMetrics(registry: Registry): Promise<string> {
  const view = Object.create(registry, {
    contentType: { value: OPENMETRICS_CONTENT_TYPE },
  }) as Registry & Renderer;
  const parts = await Promise.all(
    registry.getMetricsAsArray().map((metric) => {
      const typed = metric as unknown as Metric & {
        type?: string;
        get(): Promise<{ name: string }>;
      };
      if (typed.type !== 'counter') return view.getMetricsAsString(metric);
      return view.getMetricsAsString({
        async get() {
          const data = await typed.get();
          return { ...data, name: data.name.replace(/_total$/, '') };
        },
      });
    }),
  );
  return `${parts.join('\n')}\n# EOF\n`;
}
