import { type FaultProxy, listen, startFaultProxy, throughProxy, waitFor } from '@bulwark/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, inject, it } from 'vitest';
import resilience from '../src/index.js';
import { load, percentile } from './helpers/load.js';

const databaseUrl = inject('databaseUrl');

function target(url: string) {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 5432) };
}

describe('postgres partitioned (a blackholed connection: nothing answers, nothing is refused)', () => {
  let app: FastifyInstance | undefined;
  let proxy: FaultProxy | undefined;
  afterEach(async () => {
    await app?.close();
    await proxy?.close();
    app = undefined;
    proxy = undefined;
  });

  it('answers 200 or 503 within queryTimeoutMillis + 1 s, opens the breaker on timeouts, destroys hung clients and heals', async () => {
    const queryTimeoutMillis = 1000;
    const resetTimeoutMs = 1000;
    proxy = await startFaultProxy({ target: target(databaseUrl) });
    app = Fastify();
    await app.register(resilience, {
      db: {
        connectionString: throughProxy(databaseUrl, proxy),
        max: 5,
        min: 0,
        queryTimeoutMillis,
        probeIntervalMillis: 200,
        breaker: { windowType: 'count', windowSize: 10, minimumCalls: 4, resetTimeoutMs },
      },
    });
    app.get('/rows', async () => (await app!.db.query('SELECT 1 AS one')).rows);
    const url = await listen(app);
    const breaker = app.breakers.get('postgres')!;
    const pool = app.db.pool;
    let calls = 0;
    const timeouts: number[] = [];
    breaker.on('call', (outcome) => {
      calls++;
      if (outcome === 'timeout') timeouts.push(calls);
    });

    let n = 0;
    const warm = await load(`${url}/rows`, 5, () => n++ >= 25);
    expect(warm.filter((s) => s.status !== 200)).toStrictEqual([]);
    const warmConnections = proxy.connections;
    expect(warmConnections).toBeGreaterThan(0);

    // The pooled connections stay open; every byte on them (and on new ones) now vanishes.
    proxy.blackhole();
    let openedAt = Number.POSITIVE_INFINITY;
    breaker.once('state', (state) => {
      if (state === 'open') openedAt = performance.now();
    });
    const until = performance.now() + 3 * queryTimeoutMillis;
    const outage = await load(`${url}/rows`, 5, () => performance.now() > until);

    // Nothing hung: every answer within the deadline + 1 s, and every answer a 200 or a 503.
    expect(outage.filter((s) => s.status !== 200 && s.status !== 503)).toStrictEqual([]);
    expect(outage.filter((s) => s.latencyMs > queryTimeoutMillis + 1000)).toStrictEqual([]);
    expect(outage.filter((s) => s.status === 503 && !(Number(s.retryAfter) >= 1))).toStrictEqual(
      [],
    );
    // The timeouts were counted, and opened the breaker within the first few deadlines.
    expect(timeouts.length).toBeGreaterThanOrEqual(2);
    expect(breaker.state).not.toBe('closed');
    expect(openedAt).toBeLessThan(until);
    const afterOpen = outage.filter((s) => s.startedAt > openedAt + 50).map((s) => s.latencyMs);
    expect(afterOpen.length).toBeGreaterThan(20);
    expect(percentile(afterOpen, 99)).toBeLessThan(queryTimeoutMillis / 2);
    // No hung client went back to the pool: the ones that timed out are gone.
    expect(pool.totalCount).toBeLessThanOrEqual(5);
    expect(pool.waitingCount).toBe(0);

    await proxy.heal();
    await waitFor(() => breaker.state === 'closed', {
      timeoutMs: resetTimeoutMs + 3000,
      intervalMs: 10,
      what: 'the breaker closing after the partition heals',
    });
    let m = 0;
    const after = await load(`${url}/rows`, 5, () => m++ >= 50);
    expect(after.filter((s) => s.status !== 200)).toStrictEqual([]);
    // The pool is back to normal: nothing waiting, nothing stuck busy, within max.
    await waitFor(() => pool.idleCount === pool.totalCount, {
      timeoutMs: 2000,
      what: 'every pooled client idle again',
    });
    expect(pool.totalCount).toBeLessThanOrEqual(5);
    expect(pool.waitingCount).toBe(0);
    // Every socket a hung client or a cancel request opened is closed: the proxy carries exactly
    // the pool's connections.
    await waitFor(() => proxy!.connections === pool.totalCount, {
      timeoutMs: 3000,
      what: `no leaked socket (proxy ${proxy.connections}, pool ${pool.totalCount})`,
    });
  });
});
