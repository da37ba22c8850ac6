import { createHash } from 'node:crypto';
import type { GcraPolicy } from './gcra.js';
import type { RateLimitStore, StoreDecision } from './store.js';

/**
 * The subset of an ioredis client the Redis store uses. Typed structurally so this package
 * needs no ioredis types at run time; an ioredis `Redis` (or `Cluster`) satisfies it.
 */
export interface RedisClientLike {
  status?: string;
  evalsha(sha: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  script(subcommand: 'LOAD', script: string): Promise<unknown>;
}

/**
 * GCRA in Lua, line for line the same arithmetic as `gcra()` in gcra.ts. ARGV: interval µs,
 * capacity µs, now µs (empty: use the Redis server's clock, so every app instance shares one
 * clock). Returns { allowed, remaining, resetUs, retryAfterUs } as integers. The key expires
 * when its TAT has passed (an expired key decides like a stored past TAT, so expiry is only
 * garbage collection); with a caller-supplied clock (tests) that clock may run slower than
 * Redis's, so expiry gets 60 s of slack there to keep decisions identical to the memory store. The TAT is written
 * with %.0f because Lua's tostring keeps only 14 significant digits and a µs timestamp has 16.
 */
export const GCRA_LUA = `
local interval = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local slack = 60000
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  slack = 0
end
local stored = tonumber(redis.call('GET', KEYS[1]))
local base = now
if stored and stored >= now then base = stored end
local nxt = base + interval
local diff = nxt - now
if diff > capacity then
  return {0, 0, base - now, diff - capacity}
end
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', math.ceil(diff / 1000) + slack)
return {1, math.floor((capacity - diff) / interval), diff, 0}
`;

const GCRA_SHA = createHash('sha1').update(GCRA_LUA).digest('hex');

/**
 * GCRA state in Redis: one EVALSHA per decision (one round trip), atomic across every app
 * instance sharing the server. The script is loaded once with SCRIPT LOAD; if the server lost
 * it (restart, SCRIPT FLUSH) the call falls back to EVAL once, which also caches it again.
 * This store has no deadline of its own: wrap it in a `BoundedStore` for that.
 */
export class RedisStore implements RateLimitStore {
  /** The client commands go to; the bounded store swaps it when it replaces a connection. */
  client: RedisClientLike;
  #loaded: Promise<unknown> | undefined;

  constructor(client: RedisClientLike) {
    this.client = client;
  }

  /** SCRIPT LOAD, once; call again after a reconnect to warm a restarted server. */
  load(): Promise<unknown> {
    this.#loaded = this.client.script('LOAD', GCRA_LUA);
    return this.#loaded;
  }

  async decide(key: string, policy: GcraPolicy, nowUs?: number): Promise<StoreDecision> {
    const now = nowUs === undefined ? '' : nowUs;
    let reply: unknown;
    try {
      reply = await this.client.evalsha(
        GCRA_SHA,
        1,
        key,
        policy.intervalUs,
        policy.capacityUs,
        now,
      );
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      reply = await this.client.eval(GCRA_LUA, 1, key, policy.intervalUs, policy.capacityUs, now);
    }
    const [allowed, remaining, resetUs, retryAfterUs] = reply as [number, number, number, number];
    return { allowed: allowed === 1, remaining, resetUs, retryAfterUs, source: 'shared' };
  }
}
