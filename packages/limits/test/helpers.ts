import type {} from '@bulwark/testing';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry } from 'prom-client';

/**
 * A stand-in for @bulwark/observability's `fastify.metrics`, built on prom-client to the
 * contract in the brief: counter/gauge return the existing metric when the name is taken.
 */
export function decorateMetrics(app: FastifyInstance): Registry {
  const registry = new Registry();
  const get = <T>(name: string, make: () => T): T =>
    (registry.getSingleMetric(name) as T | undefined) ?? make();
  app.decorate('metrics', {
    registry,
    counter: (config: ConstructorParameters<typeof Counter>[0]) =>
      get(config.name, () => new Counter({ ...config, registers: [registry] })),
    gauge: (config: ConstructorParameters<typeof Gauge>[0]) =>
      get(config.name, () => new Gauge({ ...config, registers: [registry] })),
    // A stand-in: the issue-14 tests load @bulwark/observability, whose type it does not match.
  } as never);
  return registry;
}

export interface RecordedCheck {
  name: string;
  critical?: boolean;
  check: (signal: AbortSignal) => Promise<unknown>;
}

/** A minimal `fastify.health` recorder: keeps what was registered so a test can run the checks. */
export function decorateHealth(app: FastifyInstance): RecordedCheck[] {
  const checks: RecordedCheck[] = [];
  app.decorate('health', {
    shuttingDown: false,
    register(spec: RecordedCheck) {
      checks.push(spec);
    },
    // A stand-in: the issue-14 tests load @bulwark/health, whose type it does not match.
  } as never);
  return checks;
}

/** Runs a recorded check: 'pass' or the failure message. */
export async function runCheck(check: RecordedCheck | undefined): Promise<string> {
  if (!check) throw new Error('no such check');
  try {
    await check.check(new AbortController().signal);
    return 'pass';
  } catch (error) {
    return (error as Error).message;
  }
}

/** Reads one sample of a metric from the registry (0 when absent). */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  const found = values.find((value) =>
    Object.entries(labels).every(([key, expected]) => String(value.labels[key]) === expected),
  );
  return found?.value ?? 0;
}
