import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, inject, it } from 'vitest';
import resilience, { errors } from '../src/index.js';
import { decorateStandIns } from './helpers/stand-ins.js';

const databaseUrl = inject('databaseUrl');
const table = (name: string) => `${name}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;

describe('fastify.db', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('builds the pool with the documented defaults', async () => {
    app = Fastify();
    await app.register(resilience, { db: { connectionString: databaseUrl } });
    const options = app.db.pool.options as unknown as Record<string, unknown>;
    expect(options).toMatchObject({
      min: 2,
      max: 20,
      // db.connectionTimeoutMillis (10 s) bounded by db.queryTimeoutMillis (5 s)
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
      maxLifetimeSeconds: 7200,
      statement_timeout: 30_000,
      keepAlive: true,
    });
    const shown = await app.db.query('SHOW statement_timeout');
    expect(shown.rows[0]).toStrictEqual({ statement_timeout: '30s' });
    expect(app.breakers.get('postgres')?.state).toBe('closed');
    expect(app.breakers.get('postgres')?.options.timeoutMs).toBe(5000);
    expect(app.db.stats()).toMatchObject({ max: 20, waiting: 0 });
  });

  it('passes a query error through, without counting it against the breaker', async () => {
    app = Fastify();
    await app.register(resilience, {
      db: { connectionString: databaseUrl, breaker: { minimumCalls: 1, windowType: 'count' } },
    });
    await expect(app.db.query('SELEC 1')).rejects.toMatchObject({ code: '42601' });
    await expect(app.db.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
    expect(app.breakers.get('postgres')?.state).toBe('closed');
    expect(app.breakers.get('postgres')?.snapshot().failures).toBe(0);
  });

  it('commits a transaction, and rolls it back when the body throws', async () => {
    app = Fastify();
    await app.register(resilience, { db: { connectionString: databaseUrl } });
    const name = table('tx');
    await app.db.query(`CREATE TABLE ${name} (id int primary key)`);
    await app.db.transaction(async (client) => {
      await client.query(`INSERT INTO ${name} VALUES (1)`);
    });
    await expect(
      app.db.transaction(async (client) => {
        await client.query(`INSERT INTO ${name} VALUES (2)`);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const { rows } = await app.db.query(`SELECT id FROM ${name} ORDER BY id`);
    expect(rows).toStrictEqual([{ id: 1 }]);
    await app.db.query(`DROP TABLE ${name}`);
  });

  it('reruns a whole transaction on a serialization failure', async () => {
    app = Fastify();
    await app.register(resilience, { db: { connectionString: databaseUrl } });
    let runs = 0;
    const result = await app.db.transaction(async (client) => {
      runs++;
      if (runs === 1) {
        // what a serializable conflict looks like to the caller
        await client.query(
          "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'serialization_failure', MESSAGE = 'conflict'; END $$",
        );
      }
      const { rows } = await client.query('SELECT 42 AS answer');
      return rows[0];
    });
    expect(result).toStrictEqual({ answer: 42 });
    expect(runs).toBe(2);
  });

  it('does not retry a non-idempotent statement after a failure of unknown outcome', async () => {
    app = Fastify();
    await app.register(resilience, { db: { connectionString: databaseUrl } });
    let runs = 0;
    const unknown = Object.assign(new Error('Connection terminated unexpectedly'), {});
    await expect(
      app.db.transaction(async () => {
        runs++;
        throw unknown;
      }),
    ).rejects.toMatchObject({ code: 'BULWARK_DB_UNAVAILABLE', statusCode: 503 });
    expect(runs).toBe(1);
  });

  it('contributes pool gauges and a postgres health check', async () => {
    app = Fastify();
    const { metrics, health } = decorateStandIns(app);
    await app.register(resilience, { db: { connectionString: databaseUrl } });
    await app.db.query('SELECT 1');
    expect(health.checks.map((c) => [c.name, c.critical])).toStrictEqual([
      ['breaker:postgres', true],
      ['postgres', true],
    ]);
    expect(await health.run('postgres')).toBe('pass');
    const text = await metrics.registry.metrics();
    expect(text).toContain('db_pool_connections{state="idle"} 1');
    expect(text).toContain('db_pool_connections{state="active"} 0');
    expect(text).toContain(`db_pool_max_connections ${app.db.stats().max}`);
    expect(text).toContain('db_pool_pending_requests 0');
  });

  it('answers 503 BULWARK_DB_UNAVAILABLE with Retry-After through a route while the breaker is open', async () => {
    app = Fastify();
    await app.register(resilience, {
      db: { connectionString: databaseUrl, breaker: { resetTimeoutMs: 7000 } },
    });
    app.get('/rows', async () => (await app!.db.query('SELECT 1 AS one')).rows);
    expect((await app.inject('/rows')).json()).toStrictEqual([{ one: 1 }]);
    app.breakers.get('postgres')!.open();
    const response = await app.inject('/rows');
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('7');
    expect(response.json()).toStrictEqual({
      statusCode: 503,
      code: 'BULWARK_DB_UNAVAILABLE',
      error: 'Service Unavailable',
      message: 'The database is unavailable; retry after the number of seconds in Retry-After',
    });
  });

  it('fails with BULWARK_DB_CLOSED after close', async () => {
    app = Fastify();
    await app.register(resilience, { db: { connectionString: databaseUrl } });
    const db = app.db;
    await app.close();
    app = undefined;
    await expect(db.query('SELECT 1')).rejects.toBeInstanceOf(errors.DbClosedError);
  });
});
