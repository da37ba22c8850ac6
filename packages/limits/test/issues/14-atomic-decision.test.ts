import { type RedisServer, startRedis } from '@bulwark/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import limits from '../../src/index.js';

/** Calls of one command so far, from Redis' own INFO commandstats. */
async function calls(client: Redis, command: string): Promise<number> {
  const info = await client.info('commandstats');
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info);
  return match ? Number(match[1]) : 0;
}

const keyed = {
  tenant: {
    max: 100,
    windowMs: 60_000,
    key: (r: { headers: Record<string, unknown> }) => r.headers['x-tenant'] as string,
  },
  user: {
    max: 2,
    windowMs: 60_000,
    key: (r: { headers: Record<string, unknown> }) => r.headers['x-user'] as string,
  },
};

describe('issue 14: one atomic decision for every tier of a request', () => {
  let server: RedisServer;
  let client: Redis;
  let app: FastifyInstance | undefined;
  beforeAll(async () => {
    // A private server: INFO commandstats counts every client's commands.
    server = await startRedis();
    client = new Redis(server.url);
  });
  afterAll(async () => {
    await client.quit();
    await server.stop();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function build(store: 'redis' | 'memory', keyPrefix = 'rl:', globalMax = 100) {
    app = Fastify();
    await app.register(limits, {
      shedding: false,
      store,
      ...(store === 'redis' ? { redis: server.url } : {}),
      keyPrefix,
      global: { max: globalMax, windowMs: 60_000 },
      ...keyed,
    });
    await app.register(async (api) => {
      api.addHook('onRequest', async (request, reply) => {
        if (request.headers['x-user'] === undefined) return reply.code(401).send({ no: true });
      });
      api.get('/things', async () => ({ ok: true }));
    });
    await app.ready();
    return app;
  }

  it('with Redis, a request passing three tiers costs one command, and a user-tier rejection charges nothing', async () => {
    const built = await build('redis');
    await client.flushall();
    const headers = { 'x-tenant': 't1', 'x-user': 'u1' };
    const before = await calls(client, 'evalsha');
    const first = await built.inject({ url: '/things', headers });
    expect(first.statusCode).toBe(200);
    expect(await calls(client, 'evalsha')).toBe(before + 1);
    expect(first.headers.ratelimit).toBe('"global";r=99;t=1, "tenant";r=99;t=1, "user";r=1;t=30');
    expect((await built.inject({ url: '/things', headers })).statusCode).toBe(200);
    expect(await calls(client, 'evalsha')).toBe(before + 2);
    const keys = ['rl:global:127.0.0.1', 'rl:tenant:t1', 'rl:user:u1'];
    const tats = await client.mget(...keys);
    expect(tats.every((tat) => tat !== null)).toBe(true);
    // The user tier (2 per minute) is spent: the third request is rejected by it alone.
    const third = await built.inject({ url: '/things', headers });
    expect(third.statusCode).toBe(429);
    expect(third.json()).toMatchObject({ code: 'BULWARK_LIMITS_RATE_LIMITED' });
    expect(third.json().message).toContain('user rate limit');
    // Uncharged: the tiers that admitted it report what is left now.
    expect(third.headers.ratelimit).toMatch(
      /^"global";r=98;t=[12], "tenant";r=98;t=[12], "user";r=0;t=(29|30)$/,
    );
    // Nothing was charged: the tenant and global counts are exactly as before.
    expect(await client.mget(...keys)).toStrictEqual(tats);
    // Another user of the same tenant and IP still has the tenant's and the IP's budget.
    const other = await built.inject({
      url: '/things',
      headers: { 'x-tenant': 't1', 'x-user': 'u2' },
    });
    expect(other.headers.ratelimit).toMatch(
      /^"global";r=97;t=2, "tenant";r=97;t=2, "user";r=1;t=30$/,
    );
  });

  it.each([
    'memory',
    'redis',
  ] as const)('with the %s store, unauthenticated 401s on a route with late tiers count against the per-IP tier: the N+1-th answers 429', async (store) => {
    await client.flushall();
    app = await build(store, 'rl401:', 3);
    for (let i = 0; i < 3; i += 1) {
      expect((await app.inject({ url: '/things', remoteAddress: '10.9.0.1' })).statusCode).toBe(
        401,
      );
    }
    const over = await app.inject({ url: '/things', remoteAddress: '10.9.0.1' });
    expect(over.statusCode).toBe(429);
    expect(over.headers['retry-after']).toBe('20');
    // The same IP authenticated is spent too: the per-IP budget is one budget.
    const authed = await app.inject({
      url: '/things',
      remoteAddress: '10.9.0.1',
      headers: { 'x-user': 'u9', 'x-tenant': 't9' },
    });
    expect(authed.statusCode).toBe(429);
    expect(authed.json().message).toContain('global rate limit');
  });
});
