import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import queue, { type QueueOptions } from '../src/index.js';
import type { HealthCheckSpec } from '../src/telemetry.js';

/** A Redis key prefix no other test uses. */
export function uniquePrefix(): string {
  return `t-${randomUUID().slice(0, 8)}`;
}

/** A stand-in for @bulwark/observability's `fastify.metrics`, on a private prom-client registry. */
export function metricsStandIn() {
  const registry = new Registry();
  const cache = new Map<string, unknown>();
  function get<T>(name: string, make: () => T): T {
    if (!cache.has(name)) cache.set(name, make());
    return cache.get(name) as T;
  }
  type Config = { name: string; help: string; labelNames?: string[]; buckets?: number[] };
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

/** A stand-in for @bulwark/health's `fastify.health`: records the checks it is given. */
export function healthStandIn() {
  const checks = new Map<string, HealthCheckSpec>();
  return {
    checks,
    shuttingDown: false,
    register(spec: HealthCheckSpec) {
      checks.set(spec.name, spec);
    },
    /** Runs one check: resolves its details, or rejects with its failure. */
    run(name: string) {
      const spec = checks.get(name);
      if (!spec) throw new Error(`no check ${name}`);
      return spec.check(new AbortController().signal);
    },
  };
}

export interface TestApp {
  app: FastifyInstance;
  metrics?: ReturnType<typeof metricsStandIn>;
  health?: ReturnType<typeof healthStandIn>;
}

/** A fresh Fastify with the plugin (and, when asked, metrics/health stand-ins) registered. */
export async function createApp(
  options: QueueOptions,
  extras: { metrics?: boolean; health?: boolean; logs?: Array<Record<string, unknown>> } = {},
): Promise<TestApp> {
  const logs = extras.logs;
  const app = Fastify({
    logger: logs
      ? {
          level: 'debug',
          stream: { write: (line: string) => void logs.push(JSON.parse(line)) },
        }
      : { level: process.env.TEST_LOG_LEVEL ?? 'silent' },
  });
  const result: TestApp = { app };
  if (extras.metrics) {
    result.metrics = metricsStandIn();
    app.decorate('metrics', result.metrics);
  }
  if (extras.health) {
    result.health = healthStandIn();
    app.decorate('health', result.health as never);
  }
  await app.register(queue, { prefix: uniquePrefix(), ...options });
  return result;
}

/** A promise plus its resolve function, for handlers a test releases by hand. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
