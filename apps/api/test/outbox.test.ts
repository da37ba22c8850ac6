import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  type ChildApp,
  createDatabase,
  type RedisServer,
  spawnApp,
  startRedis,
  type TestDatabase,
  waitFor,
} from '@bulwark/testing';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { apiClient, uniqueTenant } from './helpers/client.js';

const apiRoot = fileURLToPath(new URL('..', import.meta.url));
const SWEEP_INTERVAL_MS = 1000;

describe('the outbox cannot strand a row', () => {
  let redis: RedisServer | undefined;
  let database: TestDatabase | undefined;
  let app: ChildApp | undefined;
  let pool: pg.Pool | undefined;
  const workers: ReturnType<typeof spawn>[] = [];
  afterEach(async () => {
    for (const worker of workers.splice(0)) worker.kill('SIGKILL');
    await app?.stop();
    app = undefined;
    await pool?.end();
    pool = undefined;
    await redis?.stop();
    redis = undefined;
    await database?.drop();
    database = undefined;
  });

  it('FLUSHALL after the relay enqueued a welcome email: the sweeper re-enqueues it and it is sent', async () => {
    redis = await startRedis();
    database = await createDatabase();
    const env = {
      NODE_ENV: 'test',
      // Every test client is 127.0.0.1: the per-IP login tier would stop the fixture's sign-ups.
      RATE_LIMIT_AUTH_IP_MAX: '1000000',
      LOG_LEVEL: 'info',
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      OUTBOX_SWEEP_INTERVAL_MS: String(SWEEP_INTERVAL_MS),
      OUTBOX_STALE_AFTER_MS: String(SWEEP_INTERVAL_MS),
    };
    // No worker yet: the job sits in Redis, relayed, until Redis loses it.
    app = await spawnApp({
      args: ['dist/server.js'],
      cwd: apiRoot,
      env: { ...env, WORKERS: 'off' },
    });
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    // The database may be dropped (its sessions terminated) as the test ends.
    pool.on('error', () => undefined);
    const api = apiClient(app.url);
    const tenant = uniqueTenant('flush');
    expect((await api.register(tenant, 'f@x.test')).status).toBe(201);
    const row = async () =>
      (
        await pool!.query<{ id: string; status: string; enqueued_at: Date | null }>(
          'SELECT id::text, status, enqueued_at FROM outbox ORDER BY id DESC LIMIT 1',
        )
      ).rows[0];
    await waitFor(async () => (await row())?.enqueued_at != null, { what: 'the relay to enqueue' });
    const { id } = (await row())!;
    const redisCli = (...args: string[]) =>
      promisify(execFile)('redis-cli', ['-u', redis!.url, ...args]).then(({ stdout }) =>
        stdout.trim(),
      );
    // The queue job id is the outbox row id.
    expect(await redisCli('KEYS', `*:email:outbox-${id}`)).toContain(`outbox-${id}`);
    expect(await redisCli('FLUSHALL')).toBe('OK');
    expect(await redisCli('DBSIZE')).toBe('0');

    const lostAt = Date.now();
    workers.push(
      spawn(process.execPath, ['dist/worker.js'], {
        cwd: apiRoot,
        env: { ...process.env, ...env, WORKER_HEALTH_PORT: '0' },
        stdio: 'ignore',
      }),
    );
    await waitFor(async () => (await row())?.status === 'sent', {
      what: 'the lost email to be sent',
      timeoutMs: SWEEP_INTERVAL_MS * 2 + 10_000,
    });
    expect(Date.now() - lostAt).toBeLessThan(SWEEP_INTERVAL_MS * 2 + 10_000);
    // The child's log reaches this process through a pipe, independently of the database.
    await waitFor(() => app!.output().includes('outbox sweeper re-enqueued pending rows'), {
      what: "the sweeper's log line",
    });
  });

  it('with Redis stopped, the relay holds no transaction: notes reads answer at once', async () => {
    redis = await startRedis();
    app = await spawnApp({
      args: ['dist/server.js'],
      cwd: apiRoot,
      // Embedded PGlite: one open transaction there stalls every other connection.
      env: {
        NODE_ENV: 'test',
        // Every test client is 127.0.0.1: the per-IP login tier would stop the fixture's sign-ups.
        RATE_LIMIT_AUTH_IP_MAX: '1000000',
        LOG_LEVEL: 'warn',
        DATABASE_URL: undefined,
        PGLITE_DATA_DIR: 'memory://',
        REDIS_URL: redis.url,
        // The queue's drain waits on a Redis that is gone: keep the test's shutdown short.
        SHUTDOWN_TIMEOUT_MS: '4000',
        REQUEST_DEADLINE_MS: '3000',
      },
    });
    const api = apiClient(app.url);
    const tenant = uniqueTenant('stall');
    await api.register(tenant, 's@x.test');
    const token = await api.login(tenant, 's@x.test');
    await redis.stop();
    // Rows for the relay to fail on, pass after pass, while Redis is gone.
    for (let index = 0; index < 5; index += 1) {
      await api.register(tenant, `s${index}@x.test`);
    }
    const timings: number[] = [];
    for (let index = 0; index < 40; index += 1) {
      const started = performance.now();
      const response = await api.request('GET', '/api/v1/notes?limit=5', { token });
      timings.push(performance.now() - started);
      expect(response.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    timings.sort((a, b) => a - b);
    // Generous: the relay's enqueue waits up to 2 s per pass; a read stuck behind it would show.
    expect(timings[Math.floor(timings.length * 0.9)]).toBeLessThan(100);
    await waitFor(() => app!.output().includes('outbox relay failed'), {
      what: "the relay's warning",
    });
  });
});
