// Small stand-ins for fastify.metrics (observability) and fastify.health (health), built to the
// cross-package contracts, so these tests do not depend on the other packages.
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

type Config = { name: string; help: string; labelNames?: readonly string[] };

export function metricsStandIn() {
  const registry = new Registry();
  function get<T>(name: string, make: () => T): T {
    return (registry.getSingleMetric(name) as T | undefined) ?? make();
  }
  return {
    registry,
    counter: (config: Config) =>
      get(config.name, () => new Counter({ ...config, registers: [registry] })),
    gauge: (config: Config) =>
      get(config.name, () => new Gauge({ ...config, registers: [registry] })),
    histogram: (config: Config) =>
      get(config.name, () => new Histogram({ ...config, registers: [registry] })),
  };
}

export interface RecordedCheck {
  name: string;
  critical?: boolean;
  check: (signal: AbortSignal) => Promise<unknown>;
}

export function healthStandIn() {
  const checks: RecordedCheck[] = [];
  return {
    checks,
    shuttingDown: false,
    register(spec: RecordedCheck) {
      checks.push(spec);
    },
    /** Runs a check: 'pass' or 'fail: <message>'. */
    async run(name: string): Promise<string> {
      const spec = checks.find((c) => c.name === name);
      if (!spec) throw new Error(`no check ${name}`);
      try {
        await spec.check(new AbortController().signal);
        return 'pass';
      } catch (error) {
        return `fail: ${(error as Error).message}`;
      }
    },
  };
}

export function decorateStandIns(app: FastifyInstance) {
  const metrics = metricsStandIn();
  const health = healthStandIn();
  app.decorate('metrics', metrics);
  app.decorate('health', health);
  return { metrics, health };
}
