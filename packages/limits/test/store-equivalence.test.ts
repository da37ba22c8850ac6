import { createHash } from 'node:crypto';
import type {} from '@bulwark/testing';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { gcraPolicy } from '../src/gcra.js';
import { MemoryStore } from '../src/memory-store.js';
import { GCRA_LUA, RedisStore } from '../src/redis-store.js';

describe('memory and Redis stores', () => {
  let client: Redis;
  let run = 0;
  beforeAll(() => {
    client = new Redis(inject('redisUrl'));
  });
  afterAll(async () => {
    await client.quit();
  });

  it('make identical decisions for the same random request sequences', async () => {
    const redis = new RedisStore(client);
    await redis.load();
    const prefix = `test:equivalence:${process.pid}:${Date.now()}`;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 120_000 }),
        fc.array(
          fc.record({
            key: fc.constantFrom('a', 'b', 'c'),
            // 0 repeats the same instant; large steps cross whole windows
            stepUs: fc.oneof(
              fc.constant(0),
              fc.integer({ min: 1, max: 5_000_000 }),
              fc.integer({ min: 0, max: 200_000_000 }),
            ),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        async (max, windowMs, requests) => {
          run += 1;
          const policy = gcraPolicy(max, windowMs);
          const memory = new MemoryStore();
          let now = 1_763_000_000_000_000 + run * 1_000_000_000;
          for (const { key, stepUs } of requests) {
            now += stepUs;
            const fullKey = `${prefix}:${run}:${key}`;
            const local = memory.decide(fullKey, policy, now);
            const shared = await redis.decide(fullKey, policy, now);
            expect({ ...shared, source: 'x' }).toStrictEqual({ ...local, source: 'x' });
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('make identical all-or-nothing decisions for random multi-tier requests', async () => {
    const redis = new RedisStore(client);
    await redis.load();
    const prefix = `test:equivalence-multi:${process.pid}:${Date.now()}`;
    const policyArb = fc
      .tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 60_000 }))
      .map(([max, windowMs]) => gcraPolicy(max, windowMs));
    await fc.assert(
      fc.asyncProperty(
        // Three tiers with their own policies, like global / tenant / user.
        fc.tuple(policyArb, policyArb, policyArb),
        fc.array(
          fc.record({
            // Which tiers apply to this request, and under which client key.
            tiers: fc.subarray([0, 1, 2], { minLength: 1 }),
            client: fc.constantFrom('a', 'b'),
            stepUs: fc.oneof(
              fc.constant(0),
              fc.integer({ min: 1, max: 2_000_000 }),
              fc.integer({ min: 0, max: 100_000_000 }),
            ),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        async (policies, requests) => {
          run += 1;
          const memory = new MemoryStore();
          let now = 1_763_000_000_000_000 + run * 1_000_000_000;
          for (const request of requests) {
            now += request.stepUs;
            const tiers = request.tiers.map((tier) => ({
              key: `${prefix}:${run}:${tier}:${tier === 0 ? 'ip' : request.client}`,
              policy: policies[tier]!,
            }));
            const local = memory.decideAll(tiers, now);
            const shared = await redis.decideAll(tiers, now);
            expect({ ...shared, source: 'x' }).toStrictEqual({ ...local, source: 'x' });
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('falls back to EVAL when the server lost the script, then uses EVALSHA again', async () => {
    const redis = new RedisStore(client);
    await client.script('FLUSH');
    const key = `test:noscript:${Date.now()}`;
    const decision = await redis.decide(key, gcraPolicy(2, 1000));
    expect(decision).toMatchObject({ allowed: true, remaining: 1, source: 'shared' });
    const sha = createHash('sha1').update(GCRA_LUA).digest('hex');
    expect(await client.script('EXISTS', sha)).toStrictEqual([1]);
  });

  it('uses the Redis server clock when no time is given', async () => {
    const redis = new RedisStore(client);
    await redis.load();
    const key = `test:clock:${Date.now()}`;
    const policy = gcraPolicy(2, 60_000);
    expect((await redis.decide(key, policy)).allowed).toBe(true);
    expect((await redis.decide(key, policy)).allowed).toBe(true);
    const third = await redis.decide(key, policy);
    expect(third.allowed).toBe(false);
    expect(third.retryAfterUs).toBeGreaterThan(29_000_000);
    expect(await client.pttl(key)).toBeGreaterThan(59_000);
  });
});
