import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import health, { type HealthOptions } from '../src/index.js';

// Routing and contract tests of the ops endpoints (inject). The page against the reference API
// with real Redis and PostgreSQL, in a browser, is apps/api/test/ops-page.test.ts.

const TOKEN = 'ops-token-0123456789';
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function build(options: HealthOptions = {}, decorate?: (app: FastifyInstance) => void) {
  app = Fastify();
  decorate?.(app);
  await app.register(health, { handleSignals: false, production: false, ...options });
  app.health.register({ name: 'dependency', check: async () => ({ ok: true }) });
  await app.ready();
  return app;
}

const bearer = { authorization: `Bearer ${TOKEN}` };

describe('ops page', () => {
  it('is not served unless enabled', async () => {
    const server = await build();
    expect((await server.inject('/ops')).statusCode).toBe(404);
    expect((await server.inject('/ops/state')).statusCode).toBe(404);
  });

  it('is not served in production without a token', async () => {
    const server = await build({ production: true, ops: { enabled: true } });
    expect((await server.inject('/ops')).statusCode).toBe(404);
    expect((await server.inject('/ops/state')).statusCode).toBe(404);
  });

  it('serves one self-contained page whose only script and style are allowed by hash', async () => {
    const server = await build({ token: TOKEN, ops: { enabled: true, refreshMs: 1000 } });
    const response = await server.inject('/ops');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-store');
    const csp = String(response.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    const body = response.body;
    // Nothing loads from elsewhere: no src/href but the inline data: icon.
    expect(body).not.toMatch(/\s(src|href)="(?!data:)/);
    const script = body.match(/<script>([\s\S]*)<\/script>/)?.[1] ?? '';
    const style = body.match(/<style>([\s\S]*)<\/style>/)?.[1] ?? '';
    const hash = (text: string) => createHash('sha256').update(text).digest('base64');
    expect(csp).toContain(`script-src 'sha256-${hash(script)}'`);
    expect(csp).toContain(`style-src 'sha256-${hash(style)}'`);
    expect(body).toContain('data-refresh-ms="1000"');
  });

  it('answers the state only with the token, with checks and no section of an absent plugin', async () => {
    const server = await build({ token: TOKEN, ops: { enabled: true } });
    const denied = await server.inject('/ops/state');
    expect(denied.statusCode).toBe(401);
    expect(denied.headers['www-authenticate']).toBe('Bearer realm="ops"');
    expect(denied.json().code).toBe('BULWARK_HEALTH_UNAUTHORIZED');
    const response = await server.inject({ url: '/ops/state', headers: bearer });
    expect(response.statusCode).toBe(200);
    const state = response.json();
    expect(state).toMatchObject({
      status: 'healthy',
      ready: true,
      shuttingDown: false,
      checks: { dependency: { status: 'pass', critical: true, lastError: null } },
    });
    for (const section of ['breakers', 'rateLimits', 'shedding', 'pool', 'queues']) {
      expect(state).not.toHaveProperty(section);
    }
  });

  it('shows a section for each plugin decorator it finds', async () => {
    const server = await build({ ops: { enabled: true, path: '/admin/ops' } }, (instance) => {
      instance.decorate('breakers', {
        list: () => [
          {
            name: 'search',
            state: 'open',
            snapshot: () => ({ calls: 10, failureRate: 60, slowCallRate: 0 }),
          },
        ],
      });
      instance.decorate('limits', {
        store: 'redis',
        inFallback: true,
        concurrencyLimit: 40,
        inFlight: 3,
      });
      instance.decorate('db', { stats: () => ({ total: 4, idle: 1, waiting: 2, max: 10 }) });
      instance.decorate('queues', {
        enabled: true,
        names: () => ['email'],
        stats: async () => ({ waiting: 5, active: 1, dead: 2, inFlight: 1, concurrency: 4 }),
        replayDead: async () => 2,
      });
    });
    const state = (await server.inject('/admin/ops/state')).json();
    expect(state.breakers).toStrictEqual([
      { name: 'search', state: 'open', calls: 10, failureRate: 60, slowCallRate: 0 },
    ]);
    expect(state.rateLimits).toStrictEqual({ store: 'redis', inFallback: true, decisions: null });
    expect(state.shedding).toStrictEqual({ concurrencyLimit: 40, inFlight: 3, shed: null });
    expect(state.pool).toStrictEqual({ total: 4, idle: 1, active: 3, waiting: 2, max: 10 });
    expect(state.queues).toStrictEqual({
      enabled: true,
      list: [
        {
          name: 'email',
          counts: { waiting: 5, active: 1, dead: 2 },
          meanWaitSeconds: null,
          deadLettered: null,
          error: null,
        },
      ],
    });
    const replay = await server.inject({ method: 'POST', url: '/admin/ops/queues/email/replay' });
    expect(replay.json()).toStrictEqual({ queue: 'email', replayed: 2 });
    const unknown = await server.inject({ method: 'POST', url: '/admin/ops/queues/nope/replay' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('BULWARK_HEALTH_OPS_UNKNOWN_QUEUE');
  });

  it('keeps answering when queue counts do not come back, naming the error per queue', async () => {
    const server = await build({ ops: { enabled: true } }, (instance) => {
      instance.decorate('queues', {
        enabled: true,
        names: () => ['email'],
        stats: () => new Promise(() => undefined),
        replayDead: async () => 0,
      });
    });
    const state = (await server.inject('/ops/state')).json();
    expect(state.queues.list[0]).toMatchObject({
      name: 'email',
      counts: null,
      error: 'no answer from Redis within 1000 ms',
    });
  });

  it('refuses a refreshMs below 500 ms', async () => {
    await expect(build({ ops: { enabled: true, refreshMs: 100 } })).rejects.toMatchObject({
      code: 'BULWARK_HEALTH_INVALID_OPTION',
      message: expect.stringContaining('ops.refreshMs'),
    });
  });
});
