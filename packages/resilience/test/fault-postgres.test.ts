import { setTimeout as sleep } from 'node:timers/promises';
import { type FaultProxy, listen, startFaultProxy, throughProxy, waitFor } from '@bulwark/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import resilience, { type ResilienceOptions } from '../src/index.js';
import { load, percentile } from './helpers/load.js';
import { decorateStandIns } from './helpers/stand-ins.js';

const databaseUrl = inject('databaseUrl');

function target(url: string) {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 5432) };
}

function withApplicationName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('application_name', name);
  return parsed.toString();
}

describe('postgres faults through a TCP proxy, with a listening app under load', () => {
  let app: FastifyInstance | undefined;
  let proxy: FaultProxy | undefined;
  afterEach(async () => {
    await app?.close();
    await proxy?.close();
    app = undefined;
    proxy = undefined;
  });

  async function start(db: NonNullable<ResilienceOptions['db']>, viaProxy = true) {
    return startWith(db, viaProxy, () => undefined);
  }

  async function startWith(
    db: NonNullable<ResilienceOptions['db']>,
    viaProxy: boolean,
    routes: (app: FastifyInstance) => void,
  ) {
    proxy = await startFaultProxy({ target: target(databaseUrl) });
    app = Fastify();
    const standIns = decorateStandIns(app);
    await app.register(resilience, {
      db: { connectionString: viaProxy ? throughProxy(databaseUrl, proxy) : databaseUrl, ...db },
    });
    app.get('/rows', async () => (await app!.db.query('SELECT 1 AS one')).rows);
    routes(app);
    const url = await listen(app);
    return { url, breaker: app.breakers.get('postgres')!, ...standIns };
  }

  it('cut: fails fast with 503 + Retry-After after the threshold, never exceeds max, heals without restart', async () => {
    const connectionTimeoutMillis = 2000;
    const resetTimeoutMs = 1000;
    const probeIntervalMillis = 200;
    const { url, breaker } = await start({
      max: 5,
      connectionTimeoutMillis,
      queryTimeoutMillis: 3000,
      probeIntervalMillis,
      breaker: {
        windowType: 'count',
        windowSize: 10,
        minimumCalls: 5,
        resetTimeoutMs,
        halfOpenTrials: 2,
      },
    });
    const pool = app!.db.pool;
    let maxTotal = 0;
    const sampler = setInterval(() => {
      maxTotal = Math.max(maxTotal, pool.totalCount);
    }, 5);
    try {
      const warm = await load(
        `${url}/rows`,
        5,
        (() => {
          let n = 0;
          return () => n++ >= 25;
        })(),
      );
      expect(warm.every((s) => s.status === 200)).toBe(true);

      let openedAt = Number.POSITIVE_INFINITY;
      breaker.once('state', (state) => {
        if (state === 'open') openedAt = performance.now();
      });
      proxy!.blackhole();
      proxy!.cut();
      const until = performance.now() + connectionTimeoutMillis + 2500;
      const outage = await load(`${url}/rows`, 10, () => performance.now() > until);

      // every request got an answer: nothing hung, nothing crashed
      expect(outage.filter((s) => s.status === 0)).toStrictEqual([]);
      expect(openedAt).toBeLessThan(until);
      const afterTrip = outage.filter((s) => s.startedAt > openedAt + 50);
      expect(afterTrip.length).toBeGreaterThan(50);
      expect(afterTrip.every((s) => s.status === 503)).toBe(true);
      expect(afterTrip.every((s) => Number(s.retryAfter) >= 1)).toBe(true);
      expect(
        afterTrip
          .filter((s) => s.code !== 'BULWARK_DB_UNAVAILABLE')
          .map((s) => ({ ...s, startedAt: s.startedAt - openedAt })),
      ).toStrictEqual([]);
      // fail-fast: far below the connection timeout each of them would otherwise wait (generous
      // margins: the cores are shared, so a rare answer can stall for a while)
      const latencies = afterTrip.map((s) => s.latencyMs);
      expect(percentile(latencies, 50)).toBeLessThan(connectionTimeoutMillis / 4);
      expect(percentile(latencies, 99)).toBeLessThan(connectionTimeoutMillis / 2);
      expect(maxTotal).toBeLessThanOrEqual(5);

      // heal while the breaker is freshly open with no trial in flight
      await waitFor(
        () => breaker.state === 'open' && breaker.msUntilHalfOpen > resetTimeoutMs - 100,
        {
          timeoutMs: 5000,
          intervalMs: 5,
          what: 'a fresh open',
        },
      );
      await proxy!.heal();
      const healedAt = performance.now();
      await waitFor(() => breaker.state === 'closed', {
        timeoutMs: resetTimeoutMs + probeIntervalMillis + 1000,
        intervalMs: 10,
        what: 'the breaker closing by itself (no user traffic)',
      });
      // resetTimeoutMs + one probe interval, plus scheduling slack
      expect(performance.now() - healedAt).toBeLessThan(resetTimeoutMs + probeIntervalMillis + 300);
      let n = 0;
      const after = await load(`${url}/rows`, 10, () => n++ >= 100);
      expect(after.filter((s) => s.status !== 200)).toStrictEqual([]);
      expect(maxTotal).toBeLessThanOrEqual(5);
    } finally {
      clearInterval(sampler);
    }
  });

  it('refused connections: trips, answers 503 + Retry-After, and heals when Postgres listens again', async () => {
    const { url, breaker } = await start({
      max: 5,
      probeIntervalMillis: 100,
      breaker: {
        windowType: 'count',
        windowSize: 10,
        minimumCalls: 5,
        resetTimeoutMs: 500,
        halfOpenTrials: 1,
      },
    });
    let n = 0;
    expect((await load(`${url}/rows`, 4, () => n++ >= 8)).every((s) => s.status === 200)).toBe(
      true,
    );
    await proxy!.refuse();
    const until = performance.now() + 400;
    const outage = await load(`${url}/rows`, 5, () => performance.now() > until);
    expect(outage.filter((s) => s.status !== 503)).toStrictEqual([]);
    expect(breaker.state).not.toBe('closed');
    expect(outage.at(-1)).toMatchObject({ code: 'BULWARK_DB_UNAVAILABLE' });
    expect(Number(outage.at(-1)?.retryAfter)).toBeGreaterThanOrEqual(1);
    await proxy!.heal();
    await waitFor(() => breaker.state === 'closed', {
      timeoutMs: 3000,
      what: 'the breaker closing',
    });
    let m = 0;
    expect((await load(`${url}/rows`, 4, () => m++ >= 20)).every((s) => s.status === 200)).toBe(
      true,
    );
  });

  it('latency past slowCallDurationMs trips the breaker on slowness alone', async () => {
    const { url, breaker } = await start({
      max: 10,
      breaker: {
        windowType: 'count',
        windowSize: 10,
        minimumCalls: 5,
        slowCallDurationMs: 100,
        slowCallRateThreshold: 50,
        resetTimeoutMs: 30_000,
      },
    });
    let n = 0;
    await load(`${url}/rows`, 2, () => n++ >= 10);
    proxy!.latency(80); // ≥ 160 ms per round trip
    const until = performance.now() + 2500;
    const slow = await load(
      `${url}/rows`,
      5,
      () => performance.now() > until || breaker.state === 'open',
    );
    expect(breaker.state).toBe('open');
    expect(breaker.lastTripReason).toBe('slow-call-rate');
    expect(slow.filter((s) => s.status !== 200 && s.status !== 503)).toStrictEqual([]);
    const response = await fetch(`${url}/rows`);
    expect(response.status).toBe(503);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(20);
  });

  it('pg_terminate_backend on pooled connections: the next queries succeed, zero client errors', async () => {
    const applicationName = `bulwark_terminate_${process.pid}_${Date.now()}`;
    app = Fastify();
    await app.register(resilience, {
      db: { connectionString: withApplicationName(databaseUrl, applicationName), max: 8 },
    });
    app.get('/rows', async () => (await app!.db.query('SELECT 1 AS one')).rows);
    const url = await listen(app);
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    try {
      const samples = [];
      for (let round = 0; round < 3; round++) {
        let n = 0;
        samples.push(...(await load(`${url}/rows`, 8, () => n++ >= 40)));
        const { rows } = await admin.query(
          'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1',
          [applicationName],
        );
        expect(rows.length).toBeGreaterThan(0);
        let m = 0;
        samples.push(...(await load(`${url}/rows`, 8, () => m++ >= 40)));
      }
      expect(samples.filter((s) => s.status !== 200)).toStrictEqual([]);
      expect(app.breakers.get('postgres')?.state).toBe('closed');
    } finally {
      await admin.end();
    }
  });

  it('pool exhaustion answers 503 BULWARK_DB_POOL_EXHAUSTED, distinct from an outage', async () => {
    const { url, breaker } = await startWith(
      { max: 2, connectionTimeoutMillis: 300, breaker: { minimumCalls: 2, windowType: 'count' } },
      false,
      (server) =>
        server.get('/sleep', async () => (await server.db.query('SELECT pg_sleep(0.8)')).rowCount),
    );
    // two warm connections, so the slow queries start at once and only the queue waits
    await Promise.all([app!.db.query('SELECT 1'), app!.db.query('SELECT 1')]);
    const answers = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const response = await fetch(`${url}/sleep`);
        return {
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          body: await response.json(),
        };
      }),
    );
    const ok = answers.filter((a) => a.status === 200);
    const busy = answers.filter((a) => a.status === 503);
    expect(ok).toHaveLength(2);
    expect(busy).toHaveLength(4);
    for (const answer of busy) {
      expect(answer.retryAfter).toBe('1');
      expect(answer.body).toStrictEqual({
        statusCode: 503,
        code: 'BULWARK_DB_POOL_EXHAUSTED',
        error: 'Service Unavailable',
        message:
          'The database connection pool is busy; retry after the number of seconds in Retry-After',
      });
    }
    // the database is fine: exhaustion does not trip the breaker
    expect(breaker.state).toBe('closed');
  });

  it('retry storm: 200 concurrent callers on a 100%-failing dependency stay within the retry budget', async () => {
    const { breaker, metrics } = await start({
      max: 20,
      retryAttempts: 3,
      // the breaker stays out of it, so only the budget limits retries
      breaker: { minimumCalls: 100_000 },
    });
    await app!.db.query('SELECT 1');
    app!.breakers.retryBudget('postgres'); // created by the plugin with the default 20% ratio
    await proxy!.refuse();
    let attempts = 0;
    breaker.on('call', (outcome) => {
      if (outcome !== 'rejected') attempts++;
    });
    const calls = 200;
    const results = await Promise.allSettled(
      Array.from({ length: calls }, () => app!.db.query('SELECT 1')),
    );
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    const budget = app!.breakers.retryBudget('postgres');
    // 1 call for the warm-up query is in the window too
    const bound = 1.2 * (calls + 1) + budget.floor;
    expect(attempts).toBeLessThanOrEqual(bound);
    expect(attempts).toBeGreaterThan(calls); // some retries did happen
    const text = await metrics.registry.metrics();
    const exhausted = Number(
      /retry_budget_exhausted_total\{dependency="postgres"\} (\d+)/.exec(text)?.[1],
    );
    expect(exhausted).toBeGreaterThan(0);
    expect(attempts).toBeLessThan(calls * 3);
    await sleep(0);
  });
});
