import { listen } from '@bulwark/testing';
import fastifyRedis from '@fastify/redis';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import limits from '../src/index.js';
import { decorateHealth, decorateMetrics, metricValue, runCheck } from './helpers.js';

const prefix = () => `test:${process.pid}:${Date.now()}:${Math.random().toString(36).slice(2)}:`;

describe('Redis store', () => {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  async function build(options: Parameters<typeof limits>[1]) {
    const app = Fastify();
    apps.push(app);
    const registry = decorateMetrics(app);
    const checks = decorateHealth(app);
    await app.register(limits, { shedding: false, ...options });
    app.get('/hello', async () => ({ hello: 'world' }));
    await app.ready();
    return { app, registry, checks };
  }

  it('decides in Redis, registers a passing non-critical health check and a 0 fallback gauge', async () => {
    const keyPrefix = prefix();
    const { app, registry, checks } = await build({
      redis: inject('redisUrl'),
      keyPrefix,
      global: { max: 2, windowMs: 60_000 },
    });
    expect(app.limits.store).toBe('redis');
    expect((await app.inject('/hello')).statusCode).toBe(200);
    expect((await app.inject('/hello')).statusCode).toBe(200);
    const limited = await app.inject('/hello');
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('30');
    const client = new Redis(inject('redisUrl'));
    expect(await client.keys(`${keyPrefix}*`)).toStrictEqual([`${keyPrefix}global:127.0.0.1`]);
    await client.quit();
    expect(checks.map(({ name, critical }) => ({ name, critical }))).toStrictEqual([
      { name: 'rate-limit-store', critical: false },
    ]);
    expect(await runCheck(checks[0])).toBe('pass');
    expect(await metricValue(registry, 'rate_limit_store_fallback')).toBe(0);
  });

  it('works with the Redis store and neither fastify.metrics nor fastify.health', async () => {
    const app = Fastify();
    apps.push(app);
    await app.register(limits, {
      shedding: false,
      redis: inject('redisUrl'),
      keyPrefix: prefix(),
      global: { max: 1, windowMs: 60_000 },
    });
    app.get('/hello', async () => ({ hello: 'world' }));
    expect((await app.inject('/hello')).statusCode).toBe(200);
    expect((await app.inject('/hello')).statusCode).toBe(429);
  });

  it('fails registration with store: redis and no client, naming the fix', async () => {
    const app = Fastify();
    apps.push(app);
    await expect(app.register(limits, { store: 'redis' })).rejects.toMatchObject({
      code: 'BULWARK_LIMITS_INVALID_OPTION',
    });
  });

  it('uses the client of @fastify/redis when the app registered it', async () => {
    const app = Fastify();
    apps.push(app);
    await app.register(fastifyRedis, { url: inject('redisUrl') });
    await app.register(limits, { shedding: false, keyPrefix: prefix() });
    app.get('/hello', async () => ({ hello: 'world' }));
    await app.ready();
    expect(app.limits.store).toBe('redis');
    expect((await app.inject('/hello')).statusCode).toBe(200);
  });

  it('counts exactly across three instances: limit 50, 150 concurrent requests → exactly 50 allowed', async () => {
    const keyPrefix = prefix();
    const urls: string[] = [];
    const instances: FastifyInstance[] = [];
    for (let i = 0; i < 3; i += 1) {
      const { app } = await build({
        redis: inject('redisUrl'),
        keyPrefix,
        // This test is about accounting, not deadlines: a generous deadline keeps a busy shared
        // machine from sending decisions to the per-process fallback.
        storeTimeoutMs: 5000,
        // GCRA refills continuously: with 50 per hour, one more request would take 72 s to earn,
        // far longer than the burst lasts even on a slow machine.
        global: { max: 50, windowMs: 3_600_000 },
      });
      urls.push(await listen(app));
      instances.push(app);
    }
    const statuses = await Promise.all(
      Array.from({ length: 150 }, async (_, i) => {
        const response = await fetch(`${urls[i % 3]}/hello`);
        await response.arrayBuffer();
        return response.status;
      }),
    );
    expect(statuses.filter((status) => status === 200)).toHaveLength(50);
    expect(statuses.filter((status) => status === 429)).toHaveLength(100);
    expect(instances.map((app) => app.limits.inFallback)).toStrictEqual([false, false, false]);
  });
});
