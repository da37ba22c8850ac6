// Structural types for the optional integrations (fastify.metrics from @bulwark/observability,
// fastify.health from @bulwark/health). Never imported from those packages: discovered at runtime.

/** The part of a prom-client Counter this plugin uses. */
export interface CounterLike {
  inc(labels: Record<string, string>, value?: number): void;
}
/** The part of a prom-client Gauge this plugin uses. */
export interface GaugeLike {
  set(labels: Record<string, string>, value: number): void;
}
/** The part of a prom-client Histogram this plugin uses. */
export interface HistogramLike {
  observe(labels: Record<string, string>, value: number): void;
}

interface MetricConfig {
  name: string;
  help: string;
  labelNames?: string[];
  buckets?: number[];
}

/** `fastify.metrics` as @bulwark/observability decorates it. */
export interface MetricsLike {
  counter(config: MetricConfig): CounterLike;
  gauge(config: MetricConfig): GaugeLike;
  histogram(config: MetricConfig): HistogramLike;
}

/** A check as `fastify.health.register()` takes it. */
export interface HealthCheckSpec {
  name: string;
  check: (signal: AbortSignal) => Promise<unknown>;
  critical?: boolean;
  timeoutMs?: number;
  intervalMs?: number;
  tags?: string[];
}

/** `fastify.health` as @bulwark/health decorates it. */
export interface HealthLike {
  register(spec: HealthCheckSpec): unknown;
}

/**
 * The outcomes `queue_jobs_total` counts: each attempt has exactly one, so `sum()` is the number
 * of attempts. `retried`: it failed and will run again; `failed`: it failed for good.
 */
export type JobOutcome = 'completed' | 'retried' | 'failed';

/** The metrics this plugin records; a no-op when `fastify.metrics` is absent. */
export interface QueueMetrics {
  outcome(queue: string, outcome: JobOutcome): void;
  /** An attempt that failed at its deadline (also counted once in `outcome`). */
  timeout(queue: string): void;
  /** A job copied to the dead-letter queue. */
  deadLettered(queue: string): void;
  duration(queue: string, seconds: number): void;
  wait(queue: string, seconds: number): void;
  depth(queue: string, state: string, value: number): void;
  readonly enabled: boolean;
}

const noop = () => {};
const disabled: QueueMetrics = {
  outcome: noop,
  timeout: noop,
  deadLettered: noop,
  duration: noop,
  wait: noop,
  depth: noop,
  enabled: false,
};

/** Registers the six queue metrics in `fastify.metrics`, or returns no-ops without it. */
export function createQueueMetrics(metrics: MetricsLike | undefined): QueueMetrics {
  if (!metrics) return disabled;
  const jobs = metrics.counter({
    name: 'queue_jobs_total',
    help: 'Job attempts by outcome, one per attempt: completed, retried (failed, will run again), failed (failed for good)',
    labelNames: ['queue', 'outcome'],
  });
  // Separate families, not more outcomes: a timed-out attempt is also retried or failed, and a
  // dead-lettered job also failed, so as outcomes they would be counted twice by sum().
  const timeouts = metrics.counter({
    name: 'queue_job_timeouts_total',
    help: 'Job attempts that failed at their deadline (each is also counted in queue_jobs_total as retried or failed)',
    labelNames: ['queue'],
  });
  const deadLettered = metrics.counter({
    name: 'queue_jobs_dead_lettered_total',
    help: 'Jobs that failed for good and were copied to the dead-letter queue',
    labelNames: ['queue'],
  });
  const duration = metrics.histogram({
    name: 'queue_job_duration_seconds',
    help: 'Run time of one job attempt, from start to settle (or deadline)',
    labelNames: ['queue'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  });
  const wait = metrics.histogram({
    name: 'queue_job_wait_seconds',
    help: 'Time from enqueue (after any delay) to the first attempt starting',
    labelNames: ['queue'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  });
  const depth = metrics.gauge({
    name: 'queue_depth',
    help: 'Jobs per state, sampled from Redis every depthIntervalMs (not at scrape time)',
    labelNames: ['queue', 'state'],
  });
  return {
    enabled: true,
    outcome: (queue, outcome) => jobs.inc({ queue, outcome }),
    timeout: (queue) => timeouts.inc({ queue }),
    deadLettered: (queue) => deadLettered.inc({ queue }),
    duration: (queue, seconds) => duration.observe({ queue }, seconds),
    wait: (queue, seconds) => wait.observe({ queue }, seconds),
    depth: (queue, state, value) => depth.set({ queue, state }, value),
  };
}
