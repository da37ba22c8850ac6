import { createHash } from 'node:crypto';
import type { GcraDecision, GcraPolicy } from './gcra.js';
import type { MultiDecision, RateLimitStore, StoreDecision, TierRequest } from './store.js';

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
 * GCRA over every tier of one request, all or nothing, line for line the arithmetic of
 * `gcraAll()` in gcra.ts. KEYS: one per tier. ARGV[1]: now µs (empty: use the Redis server's
 * clock, so every app instance shares one clock); then interval µs and capacity µs per tier.
 * Returns four integers per tier: allowed, remaining, resetUs, retryAfterUs. Only when every
 * tier admits the request are the new TATs written; otherwise nothing is, and a tier that would
 * have admitted reports its uncharged state. A key expires when its TAT has passed (an expired
 * key decides like a stored past TAT, so expiry is only garbage collection); with a
 * caller-supplied clock (tests) that clock may run slower than Redis's, so expiry gets 60 s of
 * slack there to keep decisions identical to the memory store. TATs are written with %.0f
 * because Lua's tostring keeps only 14 significant digits and a µs timestamp has 16.
 */
export const GCRA_LUA = `
local now = tonumber(ARGV[1])
local slack = 60000
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  slack = 0
end
local out = {}
local nexts = {}
local rejected = false
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i])
  local capacity = tonumber(ARGV[2 * i + 1])
  local stored = tonumber(redis.call('GET', KEYS[i]))
  local base = now
  if stored and stored >= now then base = stored end
  local nxt = base + interval
  local diff = nxt - now
  local at = 4 * (i - 1)
  if diff > capacity then
    rejected = true
    out[at + 1] = 0
    out[at + 2] = 0
    out[at + 3] = base - now
    out[at + 4] = diff - capacity
  else
    out[at + 1] = 1
    out[at + 2] = math.floor((capacity - diff) / interval)
    out[at + 3] = diff
    out[at + 4] = 0
  end
  nexts[i] = nxt
end
for i = 1, #KEYS do
  local at = 4 * (i - 1)
  if not rejected then
    redis.call('SET', KEYS[i], string.format('%.0f', nexts[i]), 'PX', math.ceil((nexts[i] - now) / 1000) + slack)
  elseif out[at + 1] == 1 then
    out[at + 2] = out[at + 2] + 1
    out[at + 3] = out[at + 3] - tonumber(ARGV[2 * i])
  end
end
return out
`;

const GCRA_SHA = createHash('sha1').update(GCRA_LUA).digest('hex');

/**
 * GCRA state in Redis: one EVALSHA per request (one round trip, whatever the number of tiers),
 * atomic across every app instance sharing the server. The script is loaded once with SCRIPT
 * LOAD; if the server lost it (restart, SCRIPT FLUSH) the call falls back to EVAL once, which
 * also caches it again. This store has no deadline of its own: wrap it in a `BoundedStore`.
 *
 * All the keys of one request go to one script, so on Redis Cluster they must share a hash slot:
 * the plugin's `hashTag` option puts the same `{tag}` in each of them.
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
    const result = await this.decideAll([{ key, policy }], nowUs);
    return { ...result.decisions[0]!, source: 'shared' };
  }

  async decideAll(tiers: readonly TierRequest[], nowUs?: number): Promise<MultiDecision> {
    const args: Array<string | number> = [];
    for (const tier of tiers) args.push(tier.key);
    args.push(nowUs === undefined ? '' : nowUs);
    for (const tier of tiers) args.push(tier.policy.intervalUs, tier.policy.capacityUs);
    let reply: unknown;
    try {
      reply = await this.client.evalsha(GCRA_SHA, tiers.length, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      reply = await this.client.eval(GCRA_LUA, tiers.length, ...args);
    }
    const values = reply as number[];
    const decisions: GcraDecision[] = [];
    let rejectedBy = -1;
    let longest = -1;
    for (let i = 0; i < tiers.length; i += 1) {
      const allowed = values[4 * i] === 1;
      const retryAfterUs = values[4 * i + 3]!;
      decisions.push({
        allowed,
        remaining: values[4 * i + 1]!,
        resetUs: values[4 * i + 2]!,
        retryAfterUs,
      });
      if (!allowed && retryAfterUs > longest) {
        longest = retryAfterUs;
        rejectedBy = i;
      }
    }
    return { allowed: rejectedBy === -1, decisions, rejectedBy, source: 'shared' };
  }
}
