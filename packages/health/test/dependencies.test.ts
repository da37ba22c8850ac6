// Real dependencies: the harness's PostgreSQL database and a private redis-server this test
// kills and restarts.
import { listen, type RedisServer, startRedis } from '@bulwark/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import health from '../src/index.js';

const INTERVAL_MS = 300;
const TIMEOUT_MS = 200;

let redisServer: RedisServer;
let redis: Redis;
let pool: pg.Pool;
let app: FastifyInstance;
let url: string;

beforeAll(async () => {
  redisServer = await startRedis();
  // For a health check: fail fast instead of queueing commands while disconnected, and keep
  // reconnecting quickly so recovery is seen on the next run.
  redis = new Redis(redisServer.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 100,
    lazyConnect: true,
  });
  redis.on('error', () => undefined);
  await redis.connect();
  pool = new pg.Pool({ connectionString: inject('databaseUrl'), max: 2 });
  pool.on('error', () => undefined);

  app = Fastify();
  await app.register(health, { handleSignals: false, production: false });
  app.health.register({
    name: 'postgres',
    intervalMs: INTERVAL_MS,
    timeoutMs: TIMEOUT_MS,
    tags: ['db'],
    check: async () => {
      await pool.query('SELECT 1');
      return { total: pool.totalCount, idle: pool.idleCount };
    },
  });
  app.health.register({
    name: 'redis',
    intervalMs: INTERVAL_MS,
    timeoutMs: TIMEOUT_MS,
    check: async () => {
      await redis.ping();
    },
  });
  url = await listen(app);
});

afterAll(async () => {
  await app?.close();
  redis?.disconnect();
  await pool?.end();
  await redisServer?.stop();
});

async function readiness(): Promise<{ status: number; body: { failing?: string[] } }> {
  const response = await fetch(`${url}/health/ready`);
  return { status: response.status, body: (await response.json()) as { failing?: string[] } };
}

describe('checks against real PostgreSQL and Redis', () => {
  it('turns unready within one interval + timeout of Redis dying, and ready again once it is back', async () => {
    expect((await readiness()).status).toBe(200);

    await redisServer.kill();
    const killedAt = performance.now();
    let ready = await readiness();
    while (ready.status === 200 && performance.now() - killedAt < 5_000) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      ready = await readiness();
    }
    const detectedAfter = performance.now() - killedAt;
    expect(ready.status).toBe(503);
    expect(ready.body.failing).toStrictEqual(['redis']);
    // One interval + one timeout, plus scheduling slack for a loaded CI machine.
    expect(detectedAfter).toBeLessThan(INTERVAL_MS + TIMEOUT_MS + 500);

    const detailed = (await (await fetch(`${url}/health/detailed`)).json()) as {
      status: string;
      checks: Record<string, { status: string; details?: unknown }>;
    };
    expect(detailed.status).toBe('unhealthy');
    expect(detailed.checks.postgres?.status).toBe('pass');
    expect(detailed.checks.postgres?.details).toMatchObject({ total: expect.any(Number) });
    expect(detailed.checks.redis?.status).toBe('fail');

    await redisServer.start();
    const restartedAt = performance.now();
    await expect
      .poll(async () => (await readiness()).status, { timeout: 5_000, interval: 20 })
      .toBe(200);
    expect(performance.now() - restartedAt).toBeLessThan(5_000);
    expect((await readiness()).body).toStrictEqual({ status: 'healthy' });
  });
});
