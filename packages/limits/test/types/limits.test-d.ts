import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { describe, expectTypeOf, it } from 'vitest';
import limits, {
  type LimitsDecorator,
  type LimitsOptions,
  type LimitsRouteConfig,
  serverOptions,
} from '../../src/index.js';

describe('types', () => {
  it('registers with no options and with every option form', () => {
    const app = Fastify();
    app.register(limits);
    app.register(limits, {
      store: 'redis',
      redis: new Redis({ lazyConnect: true }),
      storeTimeoutMs: 50,
      recoveryIntervalMs: 1000,
      keyPrefix: 'x:',
      maxKeys: 10,
      legacyHeaders: true,
      global: { max: 10, windowMs: 1000, everyRoute: true },
      tenant: { key: (request) => request.headers['x-tenant'] as string | undefined },
      user: { max: 5, key: (request) => request.id },
      auth: { everyRoute: false, key: () => undefined },
      securityHeaders: { hsts: true, helmet: { contentSecurityPolicy: false } },
      shedding: { initialLimit: 10, tolerance: 1.5, maxHeapUsedBytes: 1e9 },
    });
    app.register(limits, {
      redis: 'redis://localhost:6379',
      securityHeaders: false,
      shedding: false,
    });
  });

  it('rejects a wrong type and an unknown key', () => {
    // @ts-expect-error storeTimeoutMs is a number
    const wrong: LimitsOptions = { storeTimeoutMs: '50' };
    // @ts-expect-error no such option
    const unknown: LimitsOptions = { nope: true };
    void wrong;
    void unknown;
  });

  it('types the decorator and the route config after importing only the package', () => {
    const app = Fastify();
    expectTypeOf(app.limits).toEqualTypeOf<LimitsDecorator>();
    expectTypeOf(app.limits.inFallback).toBeBoolean();
    app.get('/x', { config: { bulwarkProbe: true } }, async () => 'ok');
    app.get(
      '/y',
      {
        config: {
          limits: {
            tenant: { max: 5 },
            user: false,
            auth: true,
            priority: 'critical',
            securityHeaders: false,
          },
        },
      },
      async () => 'ok',
    );
    // @ts-expect-error unknown priority
    const bad: LimitsRouteConfig = { priority: 'urgent' };
    void bad;
  });

  it('gives serverOptions() that the Fastify constructor accepts', () => {
    Fastify(serverOptions({}));
    expectTypeOf(serverOptions().bodyLimit).toBeNumber();
  });
});
