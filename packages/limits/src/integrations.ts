/**
 * Structural types for the optional integrations this plugin discovers at registration
 * (`fastify.metrics` from @bulwark/observability, `fastify.health` from @bulwark/health). Typed
 * here, never imported, so the packages stay independent.
 */

export interface CounterLike {
  // Two overloads, as prom-client has them: `inc(undefined, n)` is not a call it accepts.
  inc(labels: Record<string, string>, value?: number): void;
  inc(value?: number): void;
  labels?(...values: string[]): { inc(value?: number): void };
}

export interface GaugeLike {
  set(labels: Record<string, string>, value: number): void;
  set(value: number): void;
  labels?(...values: string[]): { set(value: number): void };
}

export interface MetricConfig {
  name: string;
  help: string;
  labelNames?: readonly string[];
  collect?: () => void | Promise<void>;
}

export interface MetricsLike {
  counter(config: MetricConfig): CounterLike;
  gauge(config: MetricConfig): GaugeLike;
}

export interface HealthCheckSpec {
  name: string;
  check: (signal: AbortSignal) => Promise<unknown>;
  critical?: boolean;
  timeoutMs?: number;
  intervalMs?: number;
  tags?: string[];
}

export interface HealthLike {
  register(spec: HealthCheckSpec): unknown;
}

/** A counter child for fixed label values, via `labels()` when the metric has it (no per-call label hashing). */
export function counterFor(counter: CounterLike, labels: Record<string, string>): () => void {
  if (typeof counter.labels === 'function') {
    const child = counter.labels(...Object.values(labels));
    return () => child.inc();
  }
  return () => counter.inc(labels);
}
