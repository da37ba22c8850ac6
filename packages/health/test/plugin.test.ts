import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import * as client from 'prom-client';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import health, { bulwarkHealth, errors } from '../src/index.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** A stand-in for @bulwark/observability's `fastify.metrics`, on prom-client, per its contract. */
function metricsStandIn() {
  const registry = new Registry();
  function get<T>(name: string, create: () => T): T {
    return (registry.getSingleMetric(name) as T | undefined) ?? create();
  }
  return {
    registry,
    counter: (config: client.CounterConfiguration<string>) =>
      get(config.name, () => new client.Counter({ ...config, registers: [registry] })),
    gauge: (config: client.GaugeConfiguration<string>) =>
      get(config.name, () => new client.Gauge({ ...config, registers: [registry] })),
    histogram: (config: client.HistogramConfiguration<string>) =>
      get(config.name, () => new client.Histogram({ ...config, registers: [registry] })),
  };
}

describe('@bulwark/health registration', () => {
  it('registers with no options and declares its name and Fastify range', async () => {
    app = Fastify();
    await app.register(health, { handleSignals: false });
    await app.ready();
    const meta = (health as unknown as Record<symbol, { name: string; fastify: string }>)[
      Symbol.for('plugin-meta')
    ];
    expect(meta).toMatchObject({ name: '@bulwark/health', fastify: '5.x' });
    expect(typeof bulwarkHealth).toBe('function');
    expect(app.hasPlugin('@bulwark/health')).toBe(true);
    expect(app.hasDecorator('health')).toBe(true);
  });

  it('rejects an unknown option, naming it', async () => {
    app = Fastify();
    await expect(
      app.register(health, { nope: true } as unknown as Record<string, never>),
    ).rejects.toMatchObject({
      code: 'BULWARK_HEALTH_INVALID_OPTION',
      message: expect.stringMatching(/\bnope\b/),
    });
  });

  it('fails with BULWARK_HEALTH_ALREADY_REGISTERED on a second registration', async () => {
    app = Fastify();
    app.register(health, { handleSignals: false });
    app.register(health, { handleSignals: false });
    await expect(app.ready()).rejects.toMatchObject({ code: 'BULWARK_HEALTH_ALREADY_REGISTERED' });
  });

  it.each([
    [
      { shutdownDelayMs: 5_000, shutdownTimeoutMs: 5_000 },
      /shutdownDelayMs must be less than shutdownTimeoutMs/,
    ],
    [
      { checkTimeoutMs: 6_000, checkIntervalMs: 5_000 },
      /checkTimeoutMs must be at most checkIntervalMs/,
    ],
    [{ token: 'short' }, /option token .*, got "short"/],
    [{ prefix: 'health' }, /option prefix/],
    [{ shutdownTimeoutMs: 0 }, /option shutdownTimeoutMs .*, got 0/],
    [{ checks: { rss: {} } }, /option checks\.rss/],
    [{ delay: 100 }, /option delay is not supported, use shutdownDelayMs instead/],
  ])('rejects invalid options %j with a message naming the option', async (options, message) => {
    app = Fastify();
    const registering = app.register(health, options as never);
    await expect(registering).rejects.toMatchObject({ code: 'BULWARK_HEALTH_INVALID_OPTION' });
    await expect(registering).rejects.toThrow(message);
  });

  it('defaults the shutdown delay from production mode', async () => {
    const { resolveOptions } = await import('../src/options.js');
    expect(resolveOptions({ production: true }).shutdownDelayMs).toBe(5_000);
    expect(resolveOptions({ production: false }).shutdownDelayMs).toBe(0);
    expect(resolveOptions({}).shutdownTimeoutMs).toBe(30_000);
    expect(resolveOptions({ prefix: '/' }).prefix).toBe('/');
  });
});

describe('process handlers', () => {
  const events = ['SIGTERM', 'SIGINT', 'uncaughtException', 'unhandledRejection'] as const;
  const counts = () => events.map((event) => process.listenerCount(event));

  it('installs none with handleSignals: false', async () => {
    const before = counts();
    app = Fastify();
    await app.register(health, { handleSignals: false });
    await app.ready();
    expect(counts()).toStrictEqual(before);
  });

  it('installs them once ready and removes them on close', async () => {
    const before = counts();
    app = Fastify();
    await app.register(health);
    expect(counts()).toStrictEqual(before);
    await app.ready();
    expect(counts()).toStrictEqual(before.map((count) => count + 1));
    await app.close();
    app = undefined;
    expect(counts()).toStrictEqual(before);
  });
});

describe('metrics', () => {
  it('records health_check_status and health_check_duration_seconds when fastify.metrics exists', async () => {
    app = Fastify();
    const metrics = metricsStandIn();
    app.decorate('metrics', metrics);
    await app.register(health, { handleSignals: false });
    app.health.register({ name: 'up', check: async () => undefined });
    app.health.register({
      name: 'down',
      critical: false,
      check: async () => {
        throw new Error('no');
      },
    });
    await app.ready();
    await app.inject('/health/ready');
    const text = await metrics.registry.metrics();
    expect(text).toContain('health_check_status{check="up"} 1');
    expect(text).toContain('health_check_status{check="down"} 0');
    expect(text).toMatch(/health_check_duration_seconds_count\{check="up"\} 1/);
    expect(text).toMatch(/health_check_duration_seconds_count\{check="down"\} 1/);
  });

  it('works without fastify.metrics', async () => {
    app = Fastify();
    await app.register(health, { handleSignals: false });
    app.health.register({ name: 'up', check: async () => undefined });
    await app.ready();
    expect((await app.inject('/health/ready')).statusCode).toBe(200);
  });
});

describe('built-in checks', () => {
  it('registers only the checks asked for, non-critical by default, with their details', async () => {
    app = Fastify();
    await app.register(health, {
      handleSignals: false,
      production: false,
      checks: {
        eventLoopDelay: {},
        heap: {},
        rss: { maxBytes: 1 },
        disk: { path: '/', minFreeRatio: 0 },
      },
    });
    await app.ready();
    const ready = await app.inject('/health/ready');
    // RSS over 1 byte fails, but a non-critical failure only degrades.
    expect(ready.json()).toStrictEqual({ status: 'degraded' });
    const { checks } = (await app.inject('/health/detailed')).json();
    expect(Object.keys(checks).sort()).toStrictEqual(['disk', 'event-loop-delay', 'heap', 'rss']);
    expect(checks.rss).toMatchObject({ status: 'fail', critical: false, tags: ['process'] });
    expect(checks.rss.lastError).toMatch(/^resident set size .* MB exceeds 0 MB$/);
    expect(checks.heap).toMatchObject({ status: 'pass', details: { thresholdRatio: 0.9 } });
    expect(checks['event-loop-delay']).toMatchObject({
      status: 'pass',
      details: { thresholdMs: 1_000, p99Ms: expect.any(Number) },
    });
    expect(checks.disk.status).toBe('pass');
    expect(checks.disk.details.freeMb).toBeGreaterThan(0);
  });

  it('makes a built-in check critical on request', async () => {
    app = Fastify();
    await app.register(health, {
      handleSignals: false,
      checks: { disk: { path: '/', minFreeBytes: Number.MAX_SAFE_INTEGER, critical: true } },
    });
    await app.ready();
    const ready = await app.inject('/health/ready');
    expect(ready.statusCode).toBe(503);
    expect(ready.json().failing).toStrictEqual(['disk']);
  });
});

describe('errors', () => {
  const expected: Record<string, [string, number, ErrorConstructor]> = {
    InvalidOptionError: ['BULWARK_HEALTH_INVALID_OPTION', 500, TypeError],
    AlreadyRegisteredError: ['BULWARK_HEALTH_ALREADY_REGISTERED', 500, Error],
    InvalidCheckError: ['BULWARK_HEALTH_INVALID_CHECK', 500, TypeError],
    DuplicateCheckError: ['BULWARK_HEALTH_DUPLICATE_CHECK', 500, Error],
    CheckTimeoutError: ['BULWARK_HEALTH_CHECK_TIMEOUT', 503, Error],
    NotReadyError: ['BULWARK_HEALTH_NOT_READY', 503, Error],
    StartingError: ['BULWARK_HEALTH_STARTING', 503, Error],
    UnauthorizedError: ['BULWARK_HEALTH_UNAUTHORIZED', 401, Error],
    OpsUnknownQueueError: ['BULWARK_HEALTH_OPS_UNKNOWN_QUEUE', 404, Error],
  };

  it('exports every error with its code, status, name and base class', () => {
    expect(Object.keys(errors).sort()).toStrictEqual(Object.keys(expected).sort());
    for (const [name, [code, statusCode, base]] of Object.entries(expected)) {
      const ErrorClass = (errors as unknown as Record<string, new (...args: unknown[]) => Error>)[
        name
      ]!;
      const error = new ErrorClass('x');
      expect(error).toBeInstanceOf(base);
      expect(error).toMatchObject({ code, statusCode, name: 'FastifyError' });
    }
  });

  it('documents exactly the schema options in the README options table', async () => {
    const { HealthOptionsSchema } = await import('../src/options.js');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## Options'), readme.indexOf('Built-in checks'));
    const listed = [...table.matchAll(/^\| `([a-zA-Z]+)`/gm)].map((match) => match[1]);
    expect(listed.sort()).toStrictEqual(Object.keys(HealthOptionsSchema.properties).sort());
  });

  it('lists exactly the exported codes in the README errors table', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## Errors'));
    const listed = [...table.matchAll(/^\| `(BULWARK_HEALTH_[A-Z_]+)`/gm)].map((match) => match[1]);
    expect(listed.sort()).toStrictEqual(
      Object.values(expected)
        .map(([code]) => code)
        .sort(),
    );
  });
});
