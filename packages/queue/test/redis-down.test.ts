import {
  type RedisServer,
  startFaultProxy,
  startRedis,
  throughProxy,
  waitFor,
} from '@bulwark/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { errors } from '../src/index.js';
import { createApp } from './helpers.js';

describe('producer when Redis is down', () => {
  let redis: RedisServer;
  let app: FastifyInstance | undefined;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    if (!redis.running) await redis.start();
  });

  it('add() fails within enqueueTimeoutMs with BULWARK_QUEUE_UNAVAILABLE (503 + Retry-After), then recovers', async () => {
    let health: Awaited<ReturnType<typeof createApp>>['health'];
    ({ app, health } = await createApp(
      { connection: redis.url, enqueueTimeoutMs: 500 },
      { health: true },
    ));
    app.queues.define('orders');
    app.post('/orders', async () => ({ id: (await app!.queues.add('orders', {})).id }));
    await app.ready();
    await app.queues.add('orders', { warm: true });
    await expect(health!.run('queue:redis')).resolves.toMatchObject({
      latencyMs: expect.any(Number),
    });
    expect(health!.checks.get('queue:redis')?.critical).toBe(false);

    await redis.kill();
    const started = Date.now();
    await expect(app.queues.add('orders', {})).rejects.toBeInstanceOf(errors.UnavailableError);
    // Generous margin for a loaded CI machine: the claim is "bounded", not a latency.
    expect(Date.now() - started).toBeLessThan(500 + 1000);

    const response = await app.inject({ method: 'POST', url: '/orders' });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.json()).toStrictEqual({
      statusCode: 503,
      code: 'BULWARK_QUEUE_UNAVAILABLE',
      error: 'Service Unavailable',
      message: 'The job queue is temporarily unavailable; try again later',
    });
    await expect(health!.run('queue:redis')).rejects.toThrow(/^Redis unreachable/);

    await redis.start();
    await waitFor(() => app!.queues.add('orders', {}), {
      what: 'add after restart',
      timeoutMs: 15_000,
    });
    await expect(health!.run('queue:redis')).resolves.toBeDefined();
  });

  it('the consumer check stands aside while Redis is down, so it never makes the app unready', async () => {
    let health: Awaited<ReturnType<typeof createApp>>['health'];
    ({ app, health } = await createApp({ connection: redis.url }, { health: true }));
    app.queues.define('orders');
    app.queues.process('orders', async () => {});
    await app.ready();
    expect(health!.checks.get('queue:orders:consumer')?.critical).toBe(false);
    await expect(health!.run('queue:orders:consumer')).resolves.toMatchObject({ waiting: 0 });

    await redis.kill();
    await waitFor(
      () =>
        health!.run('queue:redis').then(
          () => Promise.reject(new Error('still up')),
          () => true,
        ),
      {
        what: 'queue:redis to notice the outage',
        timeoutMs: 10_000,
      },
    );
    await expect(health!.run('queue:orders:consumer')).resolves.toStrictEqual({
      skipped: 'Redis unreachable: see queue:redis',
    });

    await redis.start();
    await waitFor(
      () =>
        health!.run('queue:orders:consumer').then((details) => {
          if (!details || 'skipped' in (details as object)) throw new Error('still skipped');
          return true;
        }),
      { what: 'consumer check to run again', timeoutMs: 15_000 },
    );
  });

  it('add() is bounded when Redis never answers (blackholed connection)', async () => {
    const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: redis.port } });
    try {
      ({ app } = await createApp({
        connection: throughProxy(redis.url, proxy),
        enqueueTimeoutMs: 400,
      }));
      app.queues.define('orders');
      await app.ready();
      await app.queues.add('orders', {});
      proxy.blackhole();
      const started = Date.now();
      await expect(app.queues.add('orders', {})).rejects.toMatchObject({
        code: 'BULWARK_QUEUE_UNAVAILABLE',
        statusCode: 503,
      });
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(390);
      expect(elapsed).toBeLessThan(400 + 1000);
      proxy.heal();
    } finally {
      await app?.close();
      app = undefined;
      await proxy.close();
    }
  });

  it('add() is bounded when Redis was never reachable, and close() does not hang', async () => {
    await redis.kill();
    ({ app } = await createApp({ connection: redis.url, enqueueTimeoutMs: 300 }));
    app.queues.define('orders');
    app.queues.process('orders', async () => {});
    await app.ready();
    const started = Date.now();
    await expect(app.queues.add('orders', {})).rejects.toMatchObject({
      code: 'BULWARK_QUEUE_UNAVAILABLE',
    });
    expect(Date.now() - started).toBeLessThan(300 + 1000);
    const closing = Date.now();
    await app.close();
    app = undefined;
    expect(Date.now() - closing).toBeLessThan(10_000);
  });
});
