import {
  type FaultProxy,
  listen,
  type RedisServer,
  startFaultProxy,
  startRedis,
  throughProxy,
  waitFor,
} from '@bulwark/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, inject, it } from 'vitest';
import limits from '../src/index.js';
import { expectAllAnswered } from './answered.js';
import { decorateHealth, decorateMetrics, metricValue, runCheck } from './helpers.js';
import { sleep, steadyLoad } from './load.js';

describe('Redis outage', () => {
  let app: FastifyInstance | undefined;
  let redis: RedisServer | undefined;
  let proxy: FaultProxy | undefined;
  const warnings: string[] = [];
  const outageWarnings = () =>
    warnings.filter((msg) => msg.startsWith('rate limit store unavailable')).length;
  afterEach(async () => {
    await app?.close();
    await proxy?.close();
    await redis?.stop();
    app = undefined;
    proxy = undefined;
    redis = undefined;
    warnings.length = 0;
  });

  async function build(url: string) {
    app = Fastify({
      logger: {
        level: 'warn',
        stream: {
          write(line: string) {
            const entry = JSON.parse(line);
            if (process.env.DEBUG_WARN) console.info(entry.msg, entry.err?.message);
            warnings.push(entry.msg);
          },
        },
      },
    });
    const registry = decorateMetrics(app);
    const checks = decorateHealth(app);
    await app.register(limits, {
      shedding: false,
      redis: url,
      storeTimeoutMs: 50,
      recoveryIntervalMs: 100,
      keyPrefix: `test:fault:${Date.now()}:`,
      global: { max: 40, windowMs: 60_000 },
    });
    app.get('/hello', async () => ({ hello: 'world' }));
    const base = await listen(app);
    return { app, registry, checks, url: `${base}/hello` };
  }

  async function decisions(
    registry: Awaited<ReturnType<typeof build>>['registry'],
    outcome: string,
  ) {
    return metricValue(registry, 'rate_limit_decisions_total', { tier: 'global', outcome });
  }

  it('keeps answering within the deadline when Redis is killed, limits locally, degrades health, and resumes when Redis is back', async () => {
    redis = await startRedis();
    const { app: server, registry, checks, url } = await build(redis.url);
    const load = steadyLoad(url, 4);
    await sleep(300);
    // A busy shared machine can trip the 50 ms deadline before the fault; wait for shared mode.
    await waitFor(() => !server.limits.inFallback, { timeoutMs: 5000, what: 'shared limiting' });
    expect(await decisions(registry, 'allowed')).toBeGreaterThan(0);

    // Counted from here: a busy machine may trip the deadline before the fault, a separate outage.
    const warnedBefore = outageWarnings();
    await redis.kill();
    const outageFrom = load.elapsed();
    await waitFor(() => server.limits.inFallback, { timeoutMs: 2000, what: 'fallback' });
    // The local guard has its own 40 to give first; on a busy machine the load takes a while to
    // spend them, so wait for the first local 429 rather than for a fixed time.
    await waitFor(() => load.since(outageFrom).some((sample) => sample.status === 429), {
      timeoutMs: 10_000,
      what: 'a 429 from the local guard',
    });
    expect(await runCheck(checks[0])).toBe(
      'rate limit store unavailable: limits are enforced per process',
    );
    expect(await metricValue(registry, 'rate_limit_store_fallback')).toBe(1);
    expect(await decisions(registry, 'fallback')).toBeGreaterThan(0);
    const outage = load.since(outageFrom);
    // Enforced locally, never unlimited: the local guard allows its own 40 and limits the rest.
    expect(outage.filter((sample) => sample.status === 429).length).toBeGreaterThan(0);
    expect(outage.filter((sample) => sample.status === 200).length).toBeLessThanOrEqual(42);

    await redis.start();
    await waitFor(() => !server.limits.inFallback, {
      timeoutMs: 5000,
      what: 'shared limiting to resume',
    });
    // One warning for the whole outage, however many requests it touched.
    expect(outageWarnings() - warnedBefore).toBe(1);
    const allowedBefore = await decisions(registry, 'limited');
    // Shared decisions again (a busy machine may trip the deadline once more right after the
    // resume; the store then recovers by itself, so wait rather than sleep a fixed time).
    await waitFor(async () => (await decisions(registry, 'limited')) > allowedBefore, {
      timeoutMs: 10_000,
      what: 'shared decisions after the resume',
    });
    const samples = await load.stop();

    // On a busy shared machine a 50 ms deadline can trip again right after the resume; what
    // matters is that the instance gets back to shared limiting and a passing check by itself.
    await waitFor(
      async () =>
        (await runCheck(checks[0])) === 'pass' &&
        (await metricValue(registry, 'rate_limit_store_fallback')) === 0,
      { timeoutMs: 5000, what: 'health to recover' },
    );
    expect(await decisions(registry, 'limited')).toBeGreaterThan(allowedBefore);
    expectAllAnswered(samples, 'redis killed');
  });

  it('keeps answering within the deadline when Redis is blackholed, and resumes after the fault heals', async () => {
    const target = new URL(inject('redisUrl'));
    proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: Number(target.port) } });
    const {
      app: server,
      registry,
      checks,
      url,
    } = await build(throughProxy(inject('redisUrl'), proxy));
    const load = steadyLoad(url, 4);
    await sleep(300);
    // A busy shared machine can trip the 50 ms deadline before the fault; wait for shared mode.
    await waitFor(() => !server.limits.inFallback, { timeoutMs: 5000, what: 'shared limiting' });

    const warnedBefore = outageWarnings();
    proxy.blackhole();
    const outageFrom = load.elapsed();
    await waitFor(() => server.limits.inFallback, { timeoutMs: 2000, what: 'fallback' });
    await waitFor(() => load.since(outageFrom).some((sample) => sample.status === 429), {
      timeoutMs: 10_000,
      what: 'a 429 from the local guard',
    });
    expect(await runCheck(checks[0])).not.toBe('pass');
    expect(await metricValue(registry, 'rate_limit_store_fallback')).toBe(1);
    expect(await decisions(registry, 'fallback')).toBeGreaterThan(0);
    expect(load.since(outageFrom).some((sample) => sample.status === 429)).toBe(true);

    await proxy.heal();
    await waitFor(() => !server.limits.inFallback, {
      timeoutMs: 5000,
      what: 'shared limiting to resume',
    });
    // One warning for the whole outage, however many requests it touched.
    expect(outageWarnings() - warnedBefore).toBe(1);
    const sharedBefore =
      (await decisions(registry, 'limited')) + (await decisions(registry, 'allowed'));
    await waitFor(
      async () =>
        (await decisions(registry, 'limited')) + (await decisions(registry, 'allowed')) >
        sharedBefore,
      { timeoutMs: 10_000, what: 'shared decisions after the heal' },
    );
    const samples = await load.stop();
    await waitFor(async () => (await runCheck(checks[0])) === 'pass', {
      timeoutMs: 5000,
      what: 'health to recover',
    });
    expectAllAnswered(samples, 'redis blackholed');
  });

  it('starts and serves with limits enforced locally when Redis is down at boot', async () => {
    redis = await startRedis();
    const url = redis.url;
    await redis.stop();
    const started = Date.now();
    const { app: server, checks } = await build(url);
    expect(Date.now() - started).toBeLessThan(1500);
    const answer = await server.inject('/hello');
    expect(answer.statusCode).toBe(200);
    expect(server.limits.inFallback).toBe(true);
    expect(await runCheck(checks[0])).not.toBe('pass');
  });
});
