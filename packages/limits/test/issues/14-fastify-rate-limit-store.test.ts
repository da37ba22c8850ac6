import {
  type FaultProxy,
  listen,
  type RedisServer,
  startFaultProxy,
  startRedis,
  throughProxy,
  waitFor,
} from '@bulwark/testing';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createFastifyRateLimitStore, type FastifyRateLimitStoreClass } from '../../src/index.js';
import { expectAllAnswered } from '../answered.js';
import { sleep, steadyLoad } from '../load.js';

const MAX = 40;

describe('issue 14: the store for @fastify/rate-limit', () => {
  let app: FastifyInstance | undefined;
  let Store: FastifyRateLimitStoreClass | undefined;
  let redis: RedisServer | undefined;
  let proxy: FaultProxy | undefined;
  afterEach(async () => {
    await app?.close();
    await proxy?.close();
    await redis?.stop();
    app = undefined;
    Store = undefined;
    proxy = undefined;
    redis = undefined;
  });

  async function build(url: string, keyPrefix: string) {
    const outages: string[] = [];
    Store = await createFastifyRateLimitStore({
      redis: url,
      storeTimeoutMs: 50,
      recoveryIntervalMs: 100,
      keyPrefix,
      onOutage: (error) => outages.push(error.message),
    });
    const store = Store;
    app = Fastify();
    app.addHook('onClose', async () => store.close());
    await app.register(rateLimit, { max: MAX, timeWindow: 60_000, store });
    app.get('/hello', async () => ({ hello: 'world' }));
    const base = await listen(app);
    return { url: `${base}/hello`, outages };
  }

  it('limits through Redis with GCRA: exactly max, then 429 with Retry-After', async () => {
    redis = await startRedis();
    const { url } = await build(redis.url, 'frl:exact:');
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < MAX + 3; i += 1) {
      const response = await fetch(url);
      await response.arrayBuffer();
      statuses.push(response.status);
      if (response.status === 429) retryAfter = response.headers.get('retry-after');
    }
    expect(statuses.filter((status) => status === 200)).toHaveLength(MAX);
    expect(statuses.slice(MAX)).toStrictEqual([429, 429, 429]);
    // One request every 60 s / 40 = 1.5 s: the next passes within 2 s.
    expect(retryAfter).toBe('2');
    expect(Store!.inFallback).toBe(false);
  });

  it('answers within the deadline when Redis is killed, limits locally, and resumes by itself', async () => {
    redis = await startRedis();
    const { url, outages } = await build(redis.url, `frl:kill:${Date.now()}:`);
    const load = steadyLoad(url, 4);
    await sleep(200);
    await waitFor(() => !Store!.inFallback, { timeoutMs: 5000, what: 'shared limiting' });
    const before = outages.length;
    await redis.kill();
    const from = load.elapsed();
    await waitFor(() => Store!.inFallback, { timeoutMs: 2000, what: 'fallback' });
    await waitFor(() => load.since(from).some((sample) => sample.status === 429), {
      timeoutMs: 10_000,
      what: 'a 429 from the local fallback',
    });
    // Limited locally, never unlimited: at most the local guard's own MAX pass.
    expect(load.since(from).filter((sample) => sample.status === 200).length).toBeLessThanOrEqual(
      MAX + 2,
    );
    await redis.start();
    await waitFor(() => !Store!.inFallback, { timeoutMs: 10_000, what: 'shared limiting again' });
    expect(outages.length - before).toBeGreaterThanOrEqual(1);
    await sleep(200);
    expectAllAnswered(await load.stop(), 'rate-limit store, redis killed');
  });

  it('answers within the deadline when Redis is blackholed, and resumes after the fault heals', async () => {
    redis = await startRedis();
    proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: redis.port } });
    const { url } = await build(throughProxy(redis.url, proxy), `frl:hole:${Date.now()}:`);
    const load = steadyLoad(url, 4);
    await sleep(200);
    await waitFor(() => !Store!.inFallback, { timeoutMs: 5000, what: 'shared limiting' });
    proxy.blackhole();
    const from = load.elapsed();
    await waitFor(() => Store!.inFallback, { timeoutMs: 2000, what: 'fallback' });
    await waitFor(() => load.since(from).some((sample) => sample.status === 429), {
      timeoutMs: 10_000,
      what: 'a 429 from the local fallback',
    });
    await proxy.heal();
    await waitFor(() => !Store!.inFallback, { timeoutMs: 10_000, what: 'shared limiting again' });
    await sleep(200);
    expectAllAnswered(await load.stop(), 'rate-limit store, redis blackholed');
  });

  it('refuses continueExceeding, which GCRA has no meaning for', async () => {
    Store = await createFastifyRateLimitStore();
    app = Fastify();
    await expect(
      app.register(rateLimit, { max: 1, timeWindow: 1000, continueExceeding: true, store: Store }),
    ).rejects.toMatchObject({ code: 'BULWARK_LIMITS_INVALID_OPTION' });
  });
});
