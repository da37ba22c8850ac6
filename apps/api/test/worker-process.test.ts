import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  type ChildApp,
  createDatabase,
  freePort,
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

describe('the worker process', () => {
  let redis: RedisServer | undefined;
  let database: TestDatabase | undefined;
  let app: ChildApp | undefined;
  let worker: ChildProcess | undefined;
  let pool: pg.Pool | undefined;
  afterEach(async () => {
    worker?.kill('SIGKILL');
    worker = undefined;
    await app?.stop();
    app = undefined;
    await pool?.end();
    pool = undefined;
    await redis?.stop();
    redis = undefined;
    await database?.drop();
    database = undefined;
  });

  it('answers its health port, goes unready when its consumer stops taking jobs, drains on SIGTERM', async () => {
    redis = await startRedis();
    database = await createDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    // The database may be dropped (its sessions terminated) as the test ends.
    pool.on('error', () => undefined);
    const env = {
      NODE_ENV: 'test',
      // Every test client is 127.0.0.1: the per-IP login tier would stop the fixture's sign-ups.
      RATE_LIMIT_AUTH_IP_MAX: '1000000',
      LOG_LEVEL: 'info',
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      QUEUE_CONSUMER_LIVENESS_MS: '1000',
      OUTBOX_SWEEP_INTERVAL_MS: '500',
      OUTBOX_STALE_AFTER_MS: '1000',
      SHUTDOWN_TIMEOUT_MS: '6000',
    };
    // The API relays welcome emails into the queue and runs no worker of its own.
    app = await spawnApp({
      args: ['dist/server.js'],
      cwd: apiRoot,
      env: { ...env, WORKERS: 'off' },
    });
    const api = apiClient(app.url);
    // Three tenants: joining an existing one takes an invitation (issue 16).
    for (const name of ['a', 'b', 'c'])
      await api.register(uniqueTenant('worker'), `${name}@x.test`);
    const redisCli = (...args: string[]) =>
      promisify(execFile)('redis-cli', ['-u', redis!.url, ...args]).then(({ stdout }) =>
        stdout.trim(),
      );
    await waitFor(async () => Number(await redisCli('LLEN', 'bulwark:email:wait')) === 3, {
      what: 'three waiting jobs',
    });
    // Redis keeps answering reads, but no client may write: the consumer cannot take a job
    // (taking one is a write), while the producer and the health checks' reads still work.
    expect(await redisCli('CLIENT', 'PAUSE', '60000', 'WRITE')).toBe('OK');

    const port = await freePort();
    let output = '';
    worker = spawn(process.execPath, ['dist/worker.js'], {
      cwd: apiRoot,
      env: { ...process.env, ...env, WORKER_HEALTH_PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    worker.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    // 'close', not 'exit': it comes after the output pipes have been read to their end.
    const exited = once(worker, 'close');
    const health = `http://127.0.0.1:${port}/health`;
    const ready = async () => (await fetch(`${health}/ready`)).status;
    await waitFor(async () => (await fetch(`${health}/live`)).status === 200, {
      what: `the worker's health port (${output})`,
    });
    await waitFor(async () => (await ready()) === 503, {
      what: 'readiness to fail while the consumer takes nothing',
      timeoutMs: 20_000,
    });
    const detailed = (await (await fetch(`${health}/detailed`)).json()) as {
      checks: Record<string, { status: string }>;
    };
    expect(detailed.checks['queue:email:consumer']?.status).toBe('fail');

    expect(await redisCli('CLIENT', 'UNPAUSE')).toBe('OK');
    await waitFor(async () => (await ready()) === 200, {
      what: 'readiness back',
      timeoutMs: 20_000,
    });
    await waitFor(
      async () => (await pool!.query("SELECT 1 FROM outbox WHERE status = 'sent'")).rowCount === 3,
      { what: 'the worker to send the three emails' },
    );

    // A job running at SIGTERM: a row only the sweeper hands over (relayed "long ago", its job
    // missing), whose delivery waits on a table lock this test holds, a real PostgreSQL lock.
    const { rows } = await pool!.query<{ id: string }>(
      `INSERT INTO outbox (tenant_id, user_id, kind, payload, enqueued_at)
       SELECT tenant_id, id, 'welcome-email', '{}', now() - interval '1 hour'
         FROM users WHERE email = 'a@x.test' RETURNING id::text`,
    );
    const locker = await pool!.connect();
    let signalledAt = 0;
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE outbox IN SHARE MODE');
      await waitFor(async () => Number(await redisCli('LLEN', 'bulwark:email:active')) === 1, {
        what: 'the swept job to run',
        timeoutMs: 20_000,
      });
      signalledAt = Date.now();
      worker.kill('SIGTERM');
      // Released only once the worker is draining: the job must finish inside the drain.
      await waitFor(
        () => output.includes('shutdown step: health port closed; draining queue workers'),
        {
          what: 'the worker to start draining',
        },
      );
    } finally {
      await locker.query('COMMIT');
      locker.release();
    }
    const [code] = await exited;
    expect(code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(6000);
    // The job in flight at SIGTERM finished during the drain.
    const sent = await pool!.query('SELECT status FROM outbox WHERE id = $1', [rows[0]!.id]);
    expect(sent.rows[0]).toStrictEqual({ status: 'sent' });
    expect(output).toContain('shutdown step: queue workers drained');
    expect(output.indexOf('shutdown step: pool ended')).toBeGreaterThan(
      output.indexOf('shutdown step: queue workers drained'),
    );
    worker = undefined;
  });
});
