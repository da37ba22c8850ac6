import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import limits from '../src/index.js';
import { decorateMetrics, metricValue } from './helpers.js';

describe('rate limits', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function build(options: Parameters<typeof limits>[1] = {}) {
    app = Fastify();
    const registry = decorateMetrics(app);
    await app.register(limits, {
      shedding: false,
      auth: { key: (request) => (request.body as { username?: string } | undefined)?.username },
      tenant: { key: (request) => request.headers['x-tenant'] as string | undefined },
      ...options,
    });
    app.get('/hello', async () => ({ hello: 'world' }));
    app.get('/probe', { config: { bulwarkProbe: true } }, async () => ({ ok: true }));
    app.post('/login', { config: { limits: { auth: true } } }, async () => ({ token: 't' }));
    app.get(
      '/tenant/reports',
      { config: { limits: { tenant: { max: 2, windowMs: 60_000 } } } },
      async () => ({ reports: [] }),
    );
    await app.ready();
    return { app, registry };
  }

  it('answers allowed requests with RateLimit-Policy and RateLimit headers (draft-ietf-httpapi-ratelimit-headers-10)', async () => {
    const { app } = await build({ global: { max: 3, windowMs: 60_000 } });
    const response = await app.inject('/hello');
    expect(response.statusCode).toBe(200);
    expect(response.headers['ratelimit-policy']).toBe('"global";q=3;w=60');
    expect(response.headers.ratelimit).toBe('"global";r=2;t=20');
    expect(response.headers['x-ratelimit-limit']).toBeUndefined();
  });

  it('answers 429 with Retry-After, RateLimit headers and the JSON error body when the tier is spent', async () => {
    const { app, registry } = await build({ global: { max: 2, windowMs: 60_000 } });
    await app.inject('/hello');
    await app.inject('/hello');
    const response = await app.inject('/hello');
    expect(response.statusCode).toBe(429);
    expect(response.headers['retry-after']).toBe('30');
    expect(response.headers['ratelimit-policy']).toBe('"global";q=2;w=60');
    expect(response.headers.ratelimit).toBe('"global";r=0;t=30');
    expect(response.json()).toStrictEqual({
      statusCode: 429,
      code: 'BULWARK_LIMITS_RATE_LIMITED',
      error: 'Too Many Requests',
      message: 'Too many requests for the global rate limit; retry after 30 seconds',
    });
    expect(
      await metricValue(registry, 'rate_limit_decisions_total', {
        tier: 'global',
        outcome: 'allowed',
      }),
    ).toBe(2);
    expect(
      await metricValue(registry, 'rate_limit_decisions_total', {
        tier: 'global',
        outcome: 'limited',
      }),
    ).toBe(1);
  });

  it('keys the global tier on req.ip, so trustProxy decides what X-Forwarded-For can do', async () => {
    const { app } = await build({ global: { max: 1, windowMs: 60_000 } });
    expect(
      (await app.inject({ url: '/hello', headers: { 'x-forwarded-for': '10.0.0.1' } })).statusCode,
    ).toBe(200);
    // Without trustProxy a spoofed header changes nothing: same socket address, same bucket.
    expect(
      (await app.inject({ url: '/hello', headers: { 'x-forwarded-for': '10.0.0.2' } })).statusCode,
    ).toBe(429);
  });

  it('separates clients by IP when the proxy is trusted', async () => {
    app = Fastify({ trustProxy: true });
    await app.register(limits, { shedding: false, global: { max: 1, windowMs: 60_000 } });
    app.get('/hello', async () => ({ hello: 'world' }));
    expect(
      (await app.inject({ url: '/hello', headers: { 'x-forwarded-for': '10.0.0.1' } })).statusCode,
    ).toBe(200);
    expect(
      (await app.inject({ url: '/hello', headers: { 'x-forwarded-for': '10.0.0.2' } })).statusCode,
    ).toBe(200);
    expect(
      (await app.inject({ url: '/hello', headers: { 'x-forwarded-for': '10.0.0.1' } })).statusCode,
    ).toBe(429);
  });

  it('never limits routes flagged bulwarkProbe', async () => {
    const { app } = await build({ global: { max: 1, windowMs: 60_000 } });
    for (let i = 0; i < 5; i += 1) {
      const response = await app.inject('/probe');
      expect(response.statusCode).toBe(200);
      expect(response.headers.ratelimit).toBeUndefined();
    }
  });

  it('applies tenant and user tiers with the app-supplied extractors, listing every tier in the headers', async () => {
    const { app } = await build({
      tenant: { key: (request) => request.headers['x-tenant'] as string | undefined },
      user: { max: 2, key: (request) => request.headers['x-user'] as string | undefined },
    });
    const headers = { 'x-tenant': 'acme', 'x-user': 'ann' };
    const first = await app.inject({ url: '/hello', headers });
    expect(first.headers['ratelimit-policy']).toBe(
      '"global";q=1000;w=60, "tenant";q=1000;w=60, "user";q=2;w=60',
    );
    expect(first.headers.ratelimit).toBe('"global";r=999;t=1, "tenant";r=999;t=1, "user";r=1;t=30');
    await app.inject({ url: '/hello', headers });
    const third = await app.inject({ url: '/hello', headers });
    expect(third.statusCode).toBe(429);
    expect(third.json().message).toBe(
      'Too many requests for the user rate limit; retry after 30 seconds',
    );
    // Another user of the same tenant is unaffected; no user header skips the user tier.
    expect(
      (await app.inject({ url: '/hello', headers: { 'x-tenant': 'acme', 'x-user': 'bob' } }))
        .statusCode,
    ).toBe(200);
    const anonymous = await app.inject({ url: '/hello', headers: { 'x-tenant': 'acme' } });
    expect(anonymous.statusCode).toBe(200);
    expect(anonymous.headers['ratelimit-policy']).toBe(
      '"global";q=1000;w=60, "tenant";q=1000;w=60',
    );
  });

  it('lets a route override a tier limit, in its own bucket', async () => {
    const { app } = await build({
      tenant: { key: (request) => request.headers['x-tenant'] as string | undefined },
    });
    const headers = { 'x-tenant': 'acme' };
    expect(
      (await app.inject({ url: '/tenant/reports', headers })).headers['ratelimit-policy'],
    ).toContain('"tenant";q=2;w=60');
    await app.inject({ url: '/tenant/reports', headers });
    expect((await app.inject({ url: '/tenant/reports', headers })).statusCode).toBe(429);
    expect((await app.inject({ url: '/hello', headers })).statusCode).toBe(200);
  });

  it('limits login-like routes per IP + account on the opt-in auth tier (5 per 15 min)', async () => {
    const { app } = await build({
      auth: { key: (request) => (request.body as { username?: string } | undefined)?.username },
    });
    const login = (username: string) =>
      app.inject({ method: 'POST', url: '/login', payload: { username } });
    for (let i = 0; i < 5; i += 1) expect((await login('ann')).statusCode).toBe(200);
    const sixth = await login('ann');
    expect(sixth.statusCode).toBe(429);
    expect(sixth.headers['ratelimit-policy']).toBe(
      '"global";q=1000;w=60, "auth";q=5;w=900, "authAccount";q=10;w=900, "authIp";q=30;w=900',
    );
    // Strict window (issue 14): the next attempt one full window later, not window / max.
    expect(sixth.headers['retry-after']).toBe('900');
    expect((await login('bob')).statusCode).toBe(200);
    // The auth tier is opt-in: other routes do not carry it.
    expect((await app.inject('/hello')).headers['ratelimit-policy']).toBe('"global";q=1000;w=60');
  });

  it('sends the legacy X-RateLimit-* headers when asked, for the tightest tier', async () => {
    const { app } = await build({ legacyHeaders: true, global: { max: 10, windowMs: 10_000 } });
    const response = await app.inject('/hello');
    expect(response.headers['x-ratelimit-limit']).toBe('10');
    expect(response.headers['x-ratelimit-remaining']).toBe('9');
    expect(response.headers['x-ratelimit-reset']).toBe('1');
  });

  it('refuses a route that opts into a tier whose key extractor is not set', async () => {
    app = Fastify();
    await app.register(limits, { shedding: false });
    expect(() =>
      app!.post('/login', { config: { limits: { auth: true } } }, async () => ({ ok: true })),
    ).toThrow(
      'route POST /login opts into the auth tier, but option auth.key is not set; pass auth.key (a function reading the account id from the request)',
    );
  });

  it('works without fastify.metrics', async () => {
    app = Fastify();
    await app.register(limits, { shedding: false, global: { max: 1, windowMs: 60_000 } });
    app.get('/hello', async () => ({ hello: 'world' }));
    expect((await app.inject('/hello')).statusCode).toBe(200);
    expect((await app.inject('/hello')).statusCode).toBe(429);
  });
});
