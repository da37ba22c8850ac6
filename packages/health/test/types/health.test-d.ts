import Fastify from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';
import health, {
  type HealthCheck,
  type HealthOptions,
  type HealthRegistry,
} from '../../src/index.js';

describe('@bulwark/health types', () => {
  it('registers with no options and with every option form', async () => {
    const app = Fastify();
    await app.register(health);
    await app.register(health, {
      prefix: '/probes',
      production: true,
      version: '1.0.0',
      token: 'a-token-of-16-chars-or-more',
      checkIntervalMs: 5_000,
      checkTimeoutMs: 2_000,
      handleSignals: false,
      shutdownDelayMs: 5_000,
      shutdownTimeoutMs: 30_000,
      logLevel: 'info',
      ops: { enabled: true, path: '/ops', refreshMs: 2_000 },
      checks: {
        eventLoopDelay: { maxDelayMs: 500 },
        heap: { maxUsedRatio: 0.8, critical: true },
        rss: { maxBytes: 512 * 1024 * 1024 },
        disk: { path: '/data', minFreeBytes: 1e9, intervalMs: 30_000, timeoutMs: 1_000 },
      },
    });
    // @ts-expect-error handleSignals is a boolean
    await app.register(health, { handleSignals: 'yes' });
    // @ts-expect-error unknown option
    await app.register(health, { nope: true });
    await app.register(health, { ops: { enabled: true } });
    // @ts-expect-error ops.enabled is a boolean
    await app.register(health, { ops: { enabled: 'yes' } });
    // @ts-expect-error unknown ops option
    await app.register(health, { ops: { token: 'x' } });
    // @ts-expect-error rss needs maxBytes
    await app.register(health, { checks: { rss: {} } });
    expectTypeOf<HealthOptions['prefix']>().toEqualTypeOf<string | undefined>();
  });

  it('types the decorator and the route config flag after importing only the package', () => {
    const app = Fastify();
    expectTypeOf(app.health).toEqualTypeOf<HealthRegistry>();
    expectTypeOf(app.health.shuttingDown).toEqualTypeOf<boolean>();
    expectTypeOf(app.health.status).toEqualTypeOf<'healthy' | 'degraded' | 'unhealthy'>();
    app.health.register({
      name: 'db',
      check: async (signal) => {
        expectTypeOf(signal).toEqualTypeOf<AbortSignal>();
        return { latencyMs: 1 };
      },
      critical: false,
      timeoutMs: 1_000,
      intervalMs: 5_000,
      tags: ['db'],
    });
    // @ts-expect-error a check needs a name
    app.health.register({ check: async () => undefined });
    // @ts-expect-error critical is a boolean
    app.health.register({ name: 'x', check: async () => undefined, critical: 'no' });
    app.get('/probe', { config: { bulwarkProbe: true } }, async () => 'ok');
    // @ts-expect-error bulwarkProbe is a boolean
    app.get('/probe2', { config: { bulwarkProbe: 'yes' } }, async () => 'ok');
    expectTypeOf<HealthCheck['check']>().parameters.toEqualTypeOf<[AbortSignal]>();
  });
});
