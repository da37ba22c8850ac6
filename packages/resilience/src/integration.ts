// Structural types of the optional integrations, so this package never imports another
// @bulwark package: `fastify.metrics` (observability) and `fastify.health` (health).

/** A prom-client style counter. */
export interface CounterLike {
  // Two overloads, as prom-client has them: `inc(undefined, n)` is not a call it accepts.
  inc(labels: Record<string, string>, value?: number): void;
  inc(value?: number): void;
}

/** A prom-client style gauge. */
export interface GaugeLike {
  set(labels: Record<string, string>, value: number): void;
  set(value: number): void;
}

/** prom-client metric configuration (the subset used here). */
export interface MetricConfig<M> {
  name: string;
  help: string;
  labelNames?: readonly string[];
  /** Runs before each scrape, with the metric itself as `this`. */
  collect?: (this: M) => void | Promise<void>;
}

/** What this package needs from `fastify.metrics`. */
export interface MetricsLike {
  counter(config: MetricConfig<CounterLike>): CounterLike;
  gauge(config: MetricConfig<GaugeLike>): GaugeLike;
}

/** A check as `fastify.health.register` takes it. */
export interface HealthCheckSpec {
  name: string;
  check: (signal: AbortSignal) => Promise<unknown>;
  critical?: boolean;
  timeoutMs?: number;
  intervalMs?: number;
  tags?: string[];
}

/** What this package needs from `fastify.health`. */
export interface HealthLike {
  register(spec: HealthCheckSpec): unknown;
}
