import { setTimeout as sleep } from 'node:timers/promises';
import { listen } from '@bulwark/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import health, { type HealthOptions } from '../src/index.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function build(options: HealthOptions = {}): Promise<FastifyInstance> {
  app = Fastify();
  await app.register(health, { handleSignals: false, production: false, ...options });
  return app;
}

async function timed(url: string): Promise<{ status: number; ms: number; body: unknown }> {
  const started = performance.now();
  const response = await fetch(url);
  const body = await response.json();
  return { status: response.status, ms: performance.now() - started, body };
}

const hangForever = () => new Promise<never>(() => undefined);

describe('probe endpoints', () => {
  it('reports a check that starts hanging as failed within its timeout, while live and ready answer in milliseconds', async () => {
    let hang = false;
    const server = await build();
    server.health.register({
      name: 'dependency',
      timeoutMs: 1_000,
      intervalMs: 1_000,
      check: async () => (hang ? hangForever() : { ok: true }),
    });
    const url = await listen(server);
    expect((await timed(`${url}/health/ready`)).status).toBe(200);

    hang = true;
    const hangStarted = performance.now();
    const slowest = { live: 0, ready: 0 };
    let readyStatus = 200;
    while (readyStatus === 200) {
      const live = await timed(`${url}/health/live`);
      const ready = await timed(`${url}/health/ready`);
      expect(live.status).toBe(200);
      slowest.live = Math.max(slowest.live, live.ms);
      slowest.ready = Math.max(slowest.ready, ready.ms);
      readyStatus = ready.status;
      if (readyStatus !== 200) {
        expect(ready.body).toStrictEqual({
          statusCode: 503,
          code: 'BULWARK_HEALTH_NOT_READY',
          error: 'Service Unavailable',
          message: 'not ready: critical checks failing: dependency',
          status: 'unhealthy',
          failing: ['dependency'],
        });
      }
      expect(performance.now() - hangStarted).toBeLessThan(1_000 + 1_000 + 500);
      await sleep(20);
    }
    // The check hangs for 1 s per run; a probe that waited on it would take that long.
    expect(slowest.live).toBeLessThan(250);
    expect(slowest.ready).toBeLessThan(250);
    const detailed = (await timed(`${url}/health/detailed`)).body as {
      checks: Record<string, { lastError: string }>;
    };
    expect(detailed.checks.dependency!.lastError).toBe('check timed out after 1000 ms');
  });

  it('makes a probe that arrives before the first result wait at most the check timeout', async () => {
    const server = await build();
    server.health.register({ name: 'hangs', timeoutMs: 300, check: hangForever });
    const url = await listen(server);
    const ready = await timed(`${url}/health/ready`);
    expect(ready.ms).toBeLessThan(300 + 400);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'starting', failing: ['hangs'] });
    expect((await timed(`${url}/health/ready`)).ms).toBeLessThan(250);
  });

  it('stays ready but degraded when only a non-critical check fails, and unready when a critical one fails', async () => {
    let criticalFails = false;
    const server = await build();
    server.health.register({
      name: 'cache',
      critical: false,
      intervalMs: 50,
      timeoutMs: 50,
      check: async () => {
        throw new Error('cache unreachable');
      },
    });
    server.health.register({
      name: 'db',
      intervalMs: 50,
      timeoutMs: 50,
      check: async () => {
        if (criticalFails) throw new Error('db unreachable');
      },
    });
    await server.ready();
    let response = await server.inject('/health/ready');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toStrictEqual({ status: 'degraded' });
    expect(server.health.status).toBe('degraded');

    criticalFails = true;
    await expect.poll(async () => (await server.inject('/health/ready')).statusCode).toBe(503);
    response = await server.inject('/health/ready');
    expect(response.json()).toStrictEqual({
      statusCode: 503,
      code: 'BULWARK_HEALTH_NOT_READY',
      error: 'Service Unavailable',
      message: 'not ready: critical checks failing: db',
      status: 'unhealthy',
      failing: ['db'],
    });
    // Liveness never depends on checks.
    expect((await server.inject('/health/live')).json()).toStrictEqual({ status: 'ok' });
    expect((await server.inject('/health')).json()).toMatchObject({ status: 'unhealthy' });
  });

  it('answers /startup 503 until every critical check has passed once, then 200 for good', async () => {
    let passing = false;
    let optionalCalls = 0;
    const server = await build();
    server.health.register({
      name: 'migrations',
      intervalMs: 50,
      timeoutMs: 50,
      check: async () => {
        if (!passing) throw new Error('not yet');
      },
    });
    // A failing non-critical check does not hold startup back.
    server.health.register({
      name: 'optional',
      critical: false,
      check: async () => {
        optionalCalls += 1;
        throw new Error('down');
      },
    });
    await server.ready();
    const starting = await server.inject('/health/startup');
    expect(starting.statusCode).toBe(503);
    expect(starting.headers['cache-control']).toBe('no-store');
    expect(starting.json()).toStrictEqual({
      statusCode: 503,
      code: 'BULWARK_HEALTH_STARTING',
      error: 'Service Unavailable',
      message: 'startup incomplete: waiting for critical checks: migrations',
      status: 'starting',
      waiting: ['migrations'],
    });
    expect((await server.inject('/health/ready')).json()).toMatchObject({
      status: 'starting',
      failing: ['migrations'],
    });
    expect(server.health.startupComplete).toBe(false);

    passing = true;
    await expect.poll(async () => (await server.inject('/health/startup')).statusCode).toBe(200);
    expect((await server.inject('/health/startup')).json()).toStrictEqual({ status: 'started' });
    expect(server.health.startupComplete).toBe(true);
    expect((await server.inject('/health/ready')).statusCode).toBe(200);

    // A later failure makes the app unready, but startup stays complete.
    passing = false;
    await expect.poll(async () => (await server.inject('/health/ready')).statusCode).toBe(503);
    expect((await server.inject('/health/startup')).statusCode).toBe(200);
    expect(optionalCalls).toBeGreaterThan(0);
  });

  it('completes startup at ready when no check is registered', async () => {
    const server = await build();
    await server.ready();
    expect((await server.inject('/health/startup')).statusCode).toBe(200);
    expect((await server.inject('/health/ready')).json()).toStrictEqual({ status: 'healthy' });
  });

  it('never shows credentials, connection strings or stack traces in the detailed view', async () => {
    const server = await build();
    server.health.register({
      name: 'postgres',
      check: async () => {
        const error = new Error(
          'connection to postgres://user:secret@db.internal:5432/app failed: password=secret',
        );
        error.stack = `${error.message}\n    at connect (/srv/app/node_modules/pg/lib/client.js:1:1)`;
        throw error;
      },
    });
    server.health.register({
      name: 'pool',
      check: async () => ({ total: 10, idle: 7, url: 'postgres://user:secret@db.internal/app' }),
    });
    const url = await listen(server);
    const response = await fetch(`${url}/health/detailed`);
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text).not.toContain('secret');
    expect(text).not.toContain('db.internal');
    expect(text).not.toContain('client.js');
    const body = JSON.parse(text) as {
      status: string;
      checks: Record<string, Record<string, unknown>>;
    };
    expect(body.status).toBe('unhealthy');
    expect(body.checks.postgres).toMatchObject({
      status: 'fail',
      critical: true,
      lastError: 'connection to postgres://[redacted] failed: password=[redacted]',
      lastSuccessAt: null,
    });
    expect(body.checks.postgres!.latencyMs).toEqual(expect.any(Number));
    expect(body.checks.pool).toMatchObject({
      status: 'pass',
      details: { total: 10, idle: 7, url: 'postgres://[redacted]' },
      lastSuccessAt: expect.any(String),
      lastError: null,
    });
    // Readiness names the failing check without its error.
    const ready = await (await fetch(`${url}/health/ready`)).text();
    expect(ready).not.toContain('postgres://');
    expect(ready).toContain('"failing":["postgres"]');
  });

  it('sends Cache-Control: no-store and marks every probe route with bulwarkProbe', async () => {
    app = Fastify();
    const probes: Record<string, unknown> = {};
    app.addHook('onRoute', (route) => {
      if (route.method === 'GET') probes[route.url] = route.config;
    });
    await app.register(health, { handleSignals: false, production: false });
    const paths = [
      '/health',
      '/health/live',
      '/health/ready',
      '/health/startup',
      '/health/detailed',
    ];
    for (const path of paths) {
      const response = await app.inject(path);
      expect(response.statusCode, path).toBe(200);
      expect(response.headers['cache-control'], path).toBe('no-store');
      expect(probes[path], path).toMatchObject({ bulwarkProbe: true });
    }
  });

  it('answers GET /health with status, uptime, version and timestamp', async () => {
    const server = await build({ version: '1.2.3' });
    const response = await server.inject('/health');
    const body = response.json();
    expect(Object.keys(body).sort()).toStrictEqual(['status', 'timestamp', 'uptime', 'version']);
    expect(body).toMatchObject({ status: 'healthy', version: '1.2.3' });
    expect(body.uptime).toBeGreaterThan(0);
    expect(Date.parse(body.timestamp)).not.toBeNaN();
  });

  it('serves every probe under a configured prefix', async () => {
    const server = await build({ prefix: '/_probes/' });
    for (const path of ['/_probes', '/_probes/live', '/_probes/ready', '/_probes/startup']) {
      expect((await server.inject(path)).statusCode, path).toBe(200);
    }
    expect((await server.inject('/health')).statusCode).toBe(404);
  });

  it('reports shuttingDown once fastify.close() begins, even without the signal handlers', async () => {
    const server = await build();
    let seen: boolean | undefined;
    server.addHook('onClose', async () => {
      seen = server.health.shuttingDown;
    });
    await server.ready();
    expect(server.health.shuttingDown).toBe(false);
    await server.close();
    app = undefined;
    expect(seen).toBe(true);
  });
});

describe('detailed view access', () => {
  const token = 'a-long-enough-health-token';

  it('does not register /detailed in production without a token', async () => {
    const server = await build({ production: true });
    expect((await server.inject('/health/detailed')).statusCode).toBe(404);
    expect((await server.inject('/health/ready')).statusCode).toBe(200);
  });

  it('requires the bearer token when one is configured, answering 401 with WWW-Authenticate', async () => {
    const server = await build({ production: true, token });
    const denied = await server.inject({
      url: '/health/detailed',
      headers: { authorization: 'Bearer wrong-token-wrong-token' },
    });
    expect(denied.statusCode).toBe(401);
    expect(denied.headers['www-authenticate']).toBe('Bearer realm="health"');
    expect(denied.headers['cache-control']).toBe('no-store');
    expect(denied.json()).toStrictEqual({
      statusCode: 401,
      code: 'BULWARK_HEALTH_UNAUTHORIZED',
      error: 'Unauthorized',
      message:
        'send the health token as "Authorization: Bearer <token>" to read the detailed health report',
    });
    expect((await server.inject('/health/detailed')).statusCode).toBe(401);
    const allowed = await server.inject({
      url: '/health/detailed',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.json()).toMatchObject({ status: 'healthy', ready: true, checks: {} });
  });

  it('is open outside production without a token', async () => {
    const server = await build({ production: false });
    expect((await server.inject('/health/detailed')).statusCode).toBe(200);
  });
});
