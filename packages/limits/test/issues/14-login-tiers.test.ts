import fc from 'fast-check';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { gcra, strictWindowPolicy } from '../../src/gcra.js';
import limits from '../../src/index.js';

const WINDOW_MS = 900_000;

async function build(options: Parameters<typeof limits>[1] = {}) {
  const app = Fastify();
  await app.register(limits, {
    shedding: false,
    global: { max: 100_000, windowMs: 60_000 },
    auth: { key: (request) => (request.body as { username?: string } | undefined)?.username },
    ...options,
  });
  app.post('/login', { config: { limits: { auth: true } } }, async () => ({ ok: true }));
  await app.ready();
  return app;
}

function login(app: FastifyInstance, ip: string, username: string) {
  return app.inject({
    method: 'POST',
    url: '/login',
    remoteAddress: ip,
    payload: { username, password: 'guess' },
  });
}

describe('issue 14: login tiers', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    vi.useRealTimers();
    await app?.close();
    app = undefined;
  });

  it('caps one account across IPs: 20 IPs guessing one account get exactly authAccount.max (10) in total', async () => {
    app = await build();
    let allowed = 0;
    const rejections = new Set<string>();
    for (let ip = 1; ip <= 20; ip += 1) {
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const response = await login(app, `10.3.0.${ip}`, 'victim');
        if (response.statusCode === 200) allowed += 1;
        else {
          expect(response.statusCode).toBe(429);
          rejections.add(response.json().message);
        }
      }
    }
    expect(allowed).toBe(10);
    expect([...rejections]).toStrictEqual([
      'Too many requests for the authAccount rate limit; retry after 900 seconds',
    ]);
    // Another account from a fresh IP is unaffected.
    expect((await login(app, '10.3.1.1', 'someone-else')).statusCode).toBe(200);
  });

  it('caps one IP across accounts: one password against 100 accounts gets exactly authIp.max (30)', async () => {
    app = await build();
    let allowed = 0;
    for (let account = 0; account < 100; account += 1) {
      const response = await login(app, '10.4.0.1', `user${account}`);
      if (response.statusCode === 200) allowed += 1;
    }
    expect(allowed).toBe(30);
    const spent = await login(app, '10.4.0.1', 'user-new');
    expect(spent.statusCode).toBe(429);
    expect(spent.json().message).toContain('authIp rate limit');
    expect(spent.headers['ratelimit-policy']).toBe(
      '"global";q=100000;w=60, "auth";q=5;w=900, "authAccount";q=10;w=900, "authIp";q=30;w=900',
    );
  });

  it('lets through at most 5 attempts per IP + account in any 15-minute window (greedy attacker, one try every 10 s for 2 h)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.UTC(2026, 0, 1);
    vi.setSystemTime(start);
    app = await build({ authAccount: false, authIp: false });
    const accepted: number[] = [];
    for (let t = 0; t < 2 * 3_600_000; t += 10_000) {
      vi.setSystemTime(start + t);
      const response = await login(app, '10.5.0.1', 'alice');
      if (response.statusCode === 200) accepted.push(t);
    }
    // The first 5 tries pass, then one per 15 minutes: at 15, 30, …, 105 min.
    expect(accepted).toStrictEqual([
      0, 10_000, 20_000, 30_000, 40_000, 900_000, 1_800_000, 2_700_000, 3_600_000, 4_500_000,
      5_400_000, 6_300_000,
    ]);
    for (const from of accepted) {
      expect(
        accepted.filter((at) => at >= from && at < from + WINDOW_MS).length,
      ).toBeLessThanOrEqual(5);
    }
  });

  it('never allows more than max in any window, whatever the arrival times (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 3600 }),
        fc.array(fc.integer({ min: 0, max: 2_000_000_000 }), { minLength: 1, maxLength: 80 }),
        (max, windowSeconds, steps) => {
          const policy = strictWindowPolicy(max, windowSeconds * 1000);
          const window = windowSeconds * 1_000_000;
          let tat: number | undefined;
          let now = 0;
          const accepted: number[] = [];
          for (const step of steps) {
            now += step % (2 * window);
            const result = gcra(tat, now, policy);
            if (result.allowed) {
              tat = result.tatUs;
              accepted.push(now);
            }
          }
          for (const from of accepted) {
            const inWindow = accepted.filter((at) => at >= from && at < from + window).length;
            if (inWindow > max) return false;
          }
          // And a full burst of max is available to a fresh client.
          let fresh: number | undefined;
          for (let i = 0; i < max; i += 1) {
            const result = gcra(fresh, 0, policy);
            if (!result.allowed) return false;
            fresh = result.tatUs;
          }
          return !gcra(fresh, 0, policy).allowed;
        },
      ),
      { numRuns: 300 },
    );
  });
});
