import { type FaultProxy, listen, startFaultProxy, throughProxy } from '@bulwark/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, inject, it } from 'vitest';
import limits from '../src/index.js';
import { sleep, steadyLoad } from './load.js';

describe('load shedding with the Redis store', () => {
  let app: FastifyInstance | undefined;
  let proxy: FaultProxy | undefined;
  afterEach(async () => {
    await app?.close();
    await proxy?.close();
    app = undefined;
    proxy = undefined;
  });

  it('does not cut the concurrency limit when Redis gets slower (the store wait is not the process’s latency)', async () => {
    const target = new URL(inject('redisUrl'));
    proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: Number(target.port) } });
    app = Fastify();
    await app.register(limits, {
      redis: throughProxy(inject('redisUrl'), proxy),
      keyPrefix: `test:shed-redis:${process.pid}:${Date.now()}:`,
      // Far above the added latency: this is about the shedder, not the store's fallback.
      storeTimeoutMs: 1000,
      global: { max: 1_000_000_000, windowMs: 60_000 },
      // Any window averaging over 20 ms counts as overload: far above what the process itself
      // spends per request, even on a busy CI machine, and far below the store wait added below.
      shedding: { initialLimit: 20, minLimit: 1, maxLimit: 100, latencyFloorMs: 20, tolerance: 2 },
    });
    app.get('/hello', async () => ({ hello: 'world' }));
    const url = `${await listen(app)}/hello`;

    const load = steadyLoad(url, 8);
    await sleep(500); // a fast baseline
    // Every Redis round trip now takes 60 ms or more (30 ms each way): three times what the
    // shedder tolerates, but spent waiting on the store, not in this process.
    proxy.latency(30);
    const slowFrom = load.elapsed();
    await sleep(1500);
    const samples = await load.stop();

    const slow = load.since(slowFrom);
    expect(slow.filter((sample) => sample.ms >= 60).length).toBeGreaterThan(20);
    expect(samples.filter((sample) => sample.status !== 200)).toStrictEqual([]);
    expect(app.limits.concurrencyLimit).toBeGreaterThanOrEqual(8);
    expect(app.limits.inFallback).toBe(false);
  });
});
