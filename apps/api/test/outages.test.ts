import { fileURLToPath } from 'node:url';
import {
  type ChildApp,
  type FaultProxy,
  type RedisServer,
  spawnApp,
  startFaultProxy,
  startRedis,
  throughProxy,
  waitFor,
} from '@bulwark/testing';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { apiClient, uniqueTenant } from './helpers/client.js';

const apiRoot = fileURLToPath(new URL('..', import.meta.url));

describe('outage journeys (real faults)', () => {
  let app: ChildApp | undefined;
  let redis: RedisServer | undefined;
  let proxy: FaultProxy | undefined;
  afterEach(async () => {
    await app?.stop();
    await redis?.stop();
    await proxy?.close();
    app = undefined;
    redis = undefined;
    proxy = undefined;
  });

  it('Redis killed: registration still answers 201 and the welcome email goes out once Redis is back', async () => {
    redis = await startRedis();
    app = await spawnApp({
      args: ['dist/server.js'],
      cwd: apiRoot,
      env: {
        NODE_ENV: 'test',
        // Every test client is 127.0.0.1: the per-IP login tier would stop the fixture's sign-ups.
        RATE_LIMIT_AUTH_IP_MAX: '1000000',
        LOG_LEVEL: 'warn',
        DATABASE_URL: inject('databaseUrl'),
        REDIS_URL: redis.url,
      },
    });
    const api = apiClient(app.url);
    const tenant = uniqueTenant('redis-down');

    await redis.kill();
    const registered = await api.register(tenant, 'offline@x.test');
    expect(registered.status).toBe(201);
    const token = await api.login(tenant, 'offline@x.test');
    const note = await api.request('POST', '/api/v1/notes', {
      token,
      body: { title: 'while Redis is down', body: '' },
    });
    expect(note.status).toBe(201);
    const emails = async () =>
      (await api.request<{ items: { status: string }[] }>('GET', '/api/v1/me/emails', { token }))
        .body.items;
    expect((await emails())[0]?.status).toBe('pending');
    // Redis is not a critical dependency: once the checks have seen it gone, the instance is
    // degraded but stays ready (load balancers keep routing to it), and alive.
    const detailed = await waitFor(
      async () => {
        const body = (await (await fetch(`${app!.url}/health/detailed`)).json()) as {
          status: string;
          checks: Record<string, { status: string }>;
        };
        return (
          body.checks['queue:redis']?.status === 'fail' &&
          body.checks['rate-limit-store']?.status === 'fail' &&
          body
        );
      },
      { what: 'the queue:redis and rate-limit-store checks to fail', timeoutMs: 15_000 },
    );
    expect(detailed.status).toBe('degraded');
    expect((await fetch(`${app.url}/health/ready`)).status).toBe(200);
    expect((await fetch(`${app.url}/health/live`)).status).toBe(200);
    // Routes that do not need Redis keep answering, rate-limited per process meanwhile.
    const during = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        index % 2
          ? api.request('GET', '/api/v1/notes', { token })
          : api.request('GET', '/api/v1/me', { token }),
      ),
    );
    expect(during.map((response) => response.status)).toStrictEqual(Array(20).fill(200));
    expect(during[0]?.headers.get('ratelimit')).toContain('"user"');

    await redis.start();
    await waitFor(async () => (await emails())[0]?.status === 'sent', {
      what: 'the welcome email to be sent after Redis returns',
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    // Shared limiting and health recover by themselves.
    await waitFor(
      async () => {
        const body = (await (await fetch(`${app!.url}/health/detailed`)).json()) as {
          status: string;
        };
        return body.status === 'healthy';
      },
      { what: 'health to recover', timeoutMs: 20_000 },
    );
  });

  it('Postgres cut: /api/v1 answers 503 + Retry-After fast, ready 503, live 200; healed: full service without restart', async () => {
    const databaseUrl = inject('databaseUrl');
    const target = new URL(databaseUrl);
    proxy = await startFaultProxy({
      target: { host: target.hostname, port: Number(target.port || 5432) },
    });
    app = await spawnApp({
      args: ['dist/server.js'],
      cwd: apiRoot,
      env: {
        NODE_ENV: 'test',
        // Every test client is 127.0.0.1: the per-IP login tier would stop the fixture's sign-ups.
        RATE_LIMIT_AUTH_IP_MAX: '1000000',
        LOG_LEVEL: 'warn',
        DATABASE_URL: throughProxy(databaseUrl, proxy),
        REDIS_URL: undefined,
        DB_CONNECTION_TIMEOUT_MS: '2000',
        DB_BREAKER_RESET_TIMEOUT_MS: '2000',
      },
    });
    const api = apiClient(app.url);
    const tenant = uniqueTenant('pg-cut');
    await api.register(tenant, 'cut@x.test');
    const token = await api.login(tenant, 'cut@x.test');
    expect((await api.request('GET', '/api/v1/notes', { token })).status).toBe(200);
    await waitFor(async () => (await fetch(`${app!.url}/health/ready`)).status === 200, {
      what: 'ready before the cut',
    });

    await proxy.refuse();
    const answers = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const started = performance.now();
        const response = await api.request('GET', '/api/v1/notes', { token });
        return { response, ms: performance.now() - started };
      }),
    );
    for (const { response, ms } of answers) {
      expect(response.status).toBe(503);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(response.body).toMatchObject({
        statusCode: 503,
        code: expect.stringMatching(/^BULWARK_/),
      });
      // Generous: far below any connection timeout a hang would show.
      expect(ms).toBeLessThan(5_000);
    }
    await waitFor(async () => (await fetch(`${app!.url}/health/ready`)).status === 503, {
      what: 'readiness to report the database',
      timeoutMs: 15_000,
    });
    expect((await fetch(`${app.url}/health/live`)).status).toBe(200);

    await proxy.heal();
    await waitFor(
      async () => (await api.request('GET', '/api/v1/notes', { token })).status === 200,
      {
        what: 'service back after healing',
        timeoutMs: 15_000,
        intervalMs: 200,
      },
    );
    await waitFor(async () => (await fetch(`${app!.url}/health/ready`)).status === 200, {
      what: 'ready after healing',
      timeoutMs: 15_000,
    });
    expect(app.child.exitCode).toBeNull();
  });
});
