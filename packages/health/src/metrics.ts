// The part of `fastify.metrics` (owned by @bulwark/observability) this package uses, typed
// structurally so that health never imports observability.

interface MetricConfig {
  name: string;
  help: string;
  labelNames?: readonly string[];
  buckets?: number[];
}

interface Gauge {
  set(labels: Record<string, string>, value: number): void;
}

interface Histogram {
  observe(labels: Record<string, string>, value: number): void;
}

/** Structural view of `fastify.metrics`. */
export interface MetricsLike {
  gauge(config: MetricConfig): Gauge;
  histogram(config: MetricConfig): Histogram;
}

/** Records one check result; a no-op without metrics. */
export type RecordResult = (check: string, passed: boolean, durationSeconds: number) => void;

/** Registers `health_check_status` and `health_check_duration_seconds`. */
export function checkMetrics(metrics: MetricsLike): RecordResult {
  const status = metrics.gauge({
    name: 'health_check_status',
    help: 'Result of the last run of each health check: 1 pass, 0 fail',
    labelNames: ['check'],
  });
  const duration = metrics.histogram({
    name: 'health_check_duration_seconds',
    help: 'Duration of health check runs, timeouts included',
    labelNames: ['check'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  return (check, passed, durationSeconds) => {
    const labels = { check };
    status.set(labels, passed ? 1 : 0);
    duration.observe(labels, durationSeconds);
  };
}
