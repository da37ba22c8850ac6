import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  type ChildApp,
  createDatabase,
  type FaultProxy,
  type RedisServer,
  spawnApp,
  startFaultProxy,
  startRedis,
  type TestDatabase,
  throughProxy,
  waitFor,
} from '@bulwark/testing';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { apiClient, uniqueTenant } from './helpers/client.js';
import { outputEnded } from './helpers/output.js';

const apiRoot = fileURLToPath(new URL('..', import.meta.url));

/** The `msg` of every JSON log line, in order. */
function messages(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
}

/** Asserts that lines matching `expected` appear in `actual` in this order, others between. */
function expectInOrder(actual: string[], expected: RegExp[]): void {
  let from = 0;
  for (const pattern of expected) {
    const index = actual.findIndex((line, position) => position >= from && pattern.test(line));
    expect(index, `${pattern} after line ${from} in:\n${actual.join('\n')}`).toBeGreaterThanOrEqual(
      0,
    );
    from = index + 1;
  }
}

describe('ordered shutdown of the API', () => {
  let redis: RedisServer | undefined;
  let database: TestDatabase | undefined;
  let proxy: FaultProxy | undefined;
  let app: ChildApp | undefined;
  let pool: pg.Pool | undefined;
  afterEach(async () => {
    await app?.stop('SIGKILL');
    app = undefined;
    await proxy?.close();
    proxy = undefined;
    await pool?.end();
    pool = undefined;
    await redis?.stop();
    redis = undefined;
    await database?.drop();
    database = undefined;
  });

  async function start(env: Record<string, string>) {
    redis = await startRedis();
    database = await createDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    // The database may be dropped (its sessions terminated) as the test ends.
    pool.on('error', () => undefined);
    const target = new URL(database.url);
    proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port) } });
    app = await spawnApp({
      args: ['dist/server.js'],
      cwd: apiRoot,
      env: {
        NODE_ENV: 'test',
        // Every test client is 127.0.0.1: the per-IP login tier would stop the fixture's sign-ups.
        RATE_LIMIT_AUTH_IP_MAX: '1000000',
        LOG_LEVEL: 'info',
        DATABASE_URL: throughProxy(database.url, proxy),
        REDIS_URL: redis.url,
        ...env,
      },
    });
    const activeJobs = async () =>
      Number(
        (
          await promisify(execFile)('redis-cli', ['-u', redis!.url, 'LLEN', 'bulwark:email:active'])
        ).stdout.trim(),
      );
    return { api: apiClient(app.url), activeJobs };
  }

  it('SIGTERM during a request, a job and a relay pass: all finish, steps logged in order, exit 0', async () => {
    const { api, activeJobs } = await start({
      SHUTDOWN_DELAY_MS: '300',
      SHUTDOWN_TIMEOUT_MS: '20000',
    });
    const tenant = uniqueTenant('drain');
    await api.register(tenant, 'a@x.test');
    const token = await api.login(tenant, 'a@x.test');
    await waitFor(
      async () => (await pool!.query("SELECT 1 FROM outbox WHERE status = 'sent'")).rowCount === 1,
      { what: 'the first welcome email' },
    );
    // Every database round trip now takes ≥ 800 ms: the job and the relay's passes are slow.
    proxy!.latency(400);
    await pool!.query(
      `INSERT INTO outbox (tenant_id, user_id, kind, payload)
       SELECT tenant_id, id, 'welcome-email', '{}' FROM users WHERE email = 'a@x.test'`,
    );
    await waitFor(async () => (await activeJobs()) >= 1, { intervalMs: 20, what: 'a running job' });
    const note = api.request('POST', '/api/v1/notes', { token, body: { title: 't', body: 'b' } });
    // The INSERT reached PostgreSQL: the request is in flight until its answer crawls back.
    await waitFor(
      async () =>
        (
          await pool!.query(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'INSERT INTO notes%'",
          )
        ).rowCount! > 0,
      { intervalMs: 20, what: 'the request in flight' },
    );
    app!.child.kill('SIGTERM');

    expect((await note).status).toBe(201);
    const exit = await app!.exited;
    await outputEnded(app!.child);
    const log = messages(app!.output());
    expect(exit.code, log.join('\n')).toBe(0);
    expectInOrder(log, [
      /^SIGTERM: readiness now 503, closing in 300 ms/,
      /^shutdown step: stop accepting$/,
      // The in-flight POST /notes (slow: every round trip crawls through the proxy).
      /^(request completed|slow request)/,
      /^shutdown step: in-flight requests finished; draining queue workers$/,
      /^shutdown step: queue workers drained$/,
      /^shutdown step: outbox relay stopped$/,
      /^shutdown step: pool ended$/,
      /^shutdown complete/,
    ]);
    expect(log).not.toContain('shutdown step: embedded database stopped');
    // The relay stopped while the pool was still open; the pool had ended at its own step.
    const steps = app!
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { step?: string; poolEnded?: boolean });
    expect(steps.find((line) => line.step === 'outbox relay stopped')?.poolEnded).toBe(false);
    expect(steps.find((line) => line.step === 'pool ended')?.poolEnded).toBe(true);
    // The running job finished during the drain: nothing is left pending.
    const { rows } = await pool!.query<{ status: string }>('SELECT status FROM outbox');
    expect(rows.map((row) => row.status)).toStrictEqual(['sent', 'sent']);
  });

  it('a job that ignores its abort signal: exits within SHUTDOWN_TIMEOUT_MS naming it', async () => {
    const { api, activeJobs } = await start({
      SHUTDOWN_DELAY_MS: '0',
      SHUTDOWN_TIMEOUT_MS: '5000',
      // The relay's reads cross the slowed proxy (2 s a round trip): their deadline must outlast
      // it, and stay below the shutdown deadline as the configuration requires.
      DB_QUERY_TIMEOUT_MS: '4500',
      REQUEST_DEADLINE_MS: '4500',
    });
    const tenant = uniqueTenant('stuck');
    await api.register(tenant, 'b@x.test');
    await waitFor(
      async () => (await pool!.query("SELECT 1 FROM outbox WHERE status = 'sent'")).rowCount === 1,
      { what: 'the first welcome email' },
    );
    proxy!.latency(1000);
    const { rows } = await pool!.query<{ id: string }>(
      `INSERT INTO outbox (tenant_id, user_id, kind, payload)
       SELECT tenant_id, id, 'welcome-email', '{}' FROM users WHERE email = 'b@x.test' RETURNING id::text`,
    );
    await waitFor(async () => (await activeJobs()) >= 1, { intervalMs: 20, what: 'a running job' });
    // Its UPDATE is on the wire: drop everything, so the job never returns (it takes no signal).
    proxy!.blackhole();
    const signalledAt = Date.now();
    app!.child.kill('SIGTERM');
    const exit = await app!.exited;
    const elapsed = Date.now() - signalledAt;
    await outputEnded(app!.child);
    const output = app!.output();
    expect(exit.code).toBe(1);
    expect(elapsed).toBeLessThan(5000 + 2000);
    expect(output).toContain(`job outbox-${rows[0]!.id} is still running after its abort signal`);
    expect(output).toContain('shutdown exceeded 5000 ms');
  });
});
