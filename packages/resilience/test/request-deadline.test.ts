import { request as httpRequest } from 'node:http';
import { listen, waitFor } from '@bulwark/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import resilience, { currentDeadline, errors } from '../src/index.js';

const databaseUrl = inject('databaseUrl');

/** Statements of this test still running on the server, found by a marker in their text. */
async function running(marker: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE $1`,
      [`%${marker}%`],
    );
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

describe('request deadlines and cancellation', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('a client that disconnects during a slow query cancels it on the server within 1 s', async () => {
    const marker = `bulwark_disconnect_${process.pid}_${Date.now()}`;
    app = Fastify();
    // No call deadline of its own: only the client's disconnect can stop the statement.
    await app.register(resilience, {
      db: { connectionString: databaseUrl, queryTimeoutMillis: 0 },
    });
    let outcome: unknown;
    app.get('/slow', async () => {
      try {
        return await app!.db.query(`SELECT pg_sleep(30) AS ${marker}`);
      } catch (error) {
        outcome = error;
        throw error;
      }
    });
    const url = new URL(await listen(app));
    const client = httpRequest({ host: url.hostname, port: url.port, path: '/slow' });
    client.on('error', () => undefined);
    client.end();
    await waitFor(async () => (await running(marker)) === 1, {
      timeoutMs: 5000,
      what: 'the slow statement running',
    });
    client.destroy();
    const gone = performance.now();
    await waitFor(async () => (await running(marker)) === 0, {
      timeoutMs: 1000,
      intervalMs: 20,
      what: 'the statement cancelled after the client left',
    });
    expect(performance.now() - gone).toBeLessThan(1000);
    await waitFor(() => outcome !== undefined, { what: 'the handler to see the abort' });
    expect(outcome).toBeInstanceOf(errors.RequestAbortedError);
    // the aborted call says nothing about the database: the breaker stays closed, unrecorded
    expect(app.breakers.get('postgres')?.snapshot()).toMatchObject({ calls: 0, state: 'closed' });
    // the connection was destroyed, not pooled with a statement still on it
    expect(app.db.pool.totalCount - app.db.pool.idleCount).toBe(0);
  });

  it('a route with a 1 s budget whose retries would take 3 s answers 503 by its deadline, and no call for it runs past it', async () => {
    const marker = `bulwark_budget_${process.pid}_${Date.now()}`;
    app = Fastify();
    await app.register(resilience, {
      db: { connectionString: databaseUrl, retryAttempts: 5, queryTimeoutMillis: 10_000 },
    });
    // Each attempt fails with a transient error (serialization failure) after 0.6 s: five
    // attempts and their backoff take over 3 s.
    const statement = `DO $$ BEGIN PERFORM pg_sleep(0.6);
      RAISE EXCEPTION '${marker}' USING ERRCODE = 'serialization_failure'; END $$`;
    let attempts = 0;
    app.breakers.get('postgres')?.on('call', () => attempts++);
    app.get('/budget', { config: { deadlineMs: 1000 } }, async () =>
      app!.db.query(statement, [], { idempotent: true }),
    );
    const url = await listen(app);
    const started = performance.now();
    const response = await fetch(`${url}/budget`);
    const elapsed = performance.now() - started;
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toStrictEqual({
      statusCode: 503,
      code: 'BULWARK_RESILIENCE_TIMEOUT',
      error: 'Service Unavailable',
      message: 'A dependency did not answer within 1000 ms',
    });
    // answered at the deadline, not after the retries (generous bound: the cores are shared)
    expect(elapsed).toBeGreaterThanOrEqual(990);
    expect(elapsed).toBeLessThan(1800);
    // the second attempt was running at the deadline and was cancelled with it
    expect(attempts).toBe(2);
    await waitFor(async () => (await running(marker)) === 0, {
      timeoutMs: 1000,
      intervalMs: 20,
      what: 'no statement of the request left running',
    });
    // and no third attempt starts afterwards
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(attempts).toBe(2);
    expect(await running(marker)).toBe(0);
  });

  it('breaker and retry calls made for a request inherit its signal and its remaining budget', async () => {
    app = Fastify();
    await app.register(resilience);
    const breaker = app.breakers.create('slow', { timeoutMs: 5000 });
    let seen: unknown;
    app.get('/call', { config: { deadlineMs: 200 } }, async () =>
      breaker.fire(
        (signal) =>
          new Promise((_resolve, reject) => {
            signal.addEventListener('abort', () => {
              seen = signal.reason;
              reject(signal.reason);
            });
          }),
      ),
    );
    app.get('/outside', async (request) => ({
      budgetMs: request.deadline?.budgetMs,
      inContext: currentDeadline() === request.deadline,
    }));
    const response = await app.inject('/call');
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ code: 'BULWARK_RESILIENCE_TIMEOUT' });
    expect(seen).toBeInstanceOf(errors.TimeoutError);
    expect(breaker.snapshot()).toMatchObject({ calls: 1, failures: 1 });
    expect((await app.inject('/outside')).json()).toStrictEqual({ budgetMs: 0, inContext: true });
    // outside any request there is no deadline
    expect(currentDeadline()).toBeUndefined();
  });

  it('stops applying once the response is sent, so work left running on purpose is not cut short', async () => {
    app = Fastify();
    await app.register(resilience);
    let during: unknown;
    let after: unknown = 'unset';
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    app.get('/background', { config: { deadlineMs: 50 } }, async () => {
      during = currentDeadline();
      setTimeout(() => {
        after = currentDeadline();
        done();
      }, 100);
      return 'ok';
    });
    expect((await app.inject('/background')).statusCode).toBe(200);
    await finished;
    expect(during).toMatchObject({ budgetMs: 50 });
    expect(after).toBeUndefined();
  });

  it('takes Fastify’s requestTimeout as the default budget', async () => {
    app = Fastify({ requestTimeout: 4000 });
    await app.register(resilience);
    app.get('/budget', async (request) => ({ budgetMs: request.deadline?.budgetMs }));
    expect((await app.inject('/budget')).json()).toStrictEqual({ budgetMs: 4000 });
  });

  it('rejects an invalid route deadline at registration', async () => {
    app = Fastify();
    await app.register(resilience);
    expect(() => app!.get('/bad', { config: { deadlineMs: -1 } }, async () => 'x')).toThrowError(
      expect.objectContaining({
        code: 'BULWARK_RESILIENCE_INVALID_OPTION',
        message: expect.stringContaining('config.deadlineMs must be an integer ≥ 0'),
      }),
    );
  });
});
