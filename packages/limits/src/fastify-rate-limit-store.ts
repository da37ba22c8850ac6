import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { BoundedStore } from './bounded-store.js';
import { InvalidOptionError } from './errors.js';
import { type GcraPolicy, gcraPolicy } from './gcra.js';
import { MemoryStore } from './memory-store.js';
import { connectionFactory, whenReady } from './redis-connection.js';
import { type RedisClientLike, RedisStore } from './redis-store.js';
import type { RateLimitStore, StoreDecision } from './store.js';

/** Options of {@link createFastifyRateLimitStore}. */
export const FastifyRateLimitStoreOptionsSchema = Type.Object(
  {
    redis: Type.Optional(
      Type.Unsafe<string | RedisClientLike>(
        Type.Union([Type.String(), Type.Object({})], {
          description:
            'A redis:// URL or an ioredis client (e.g. `fastify.redis` from @fastify/redis; it is duplicated, never reset). Omit for a per-process store.',
        }),
      ),
    ),
    storeTimeoutMs: Type.Integer({
      minimum: 1,
      default: 50,
      description:
        'Deadline of one Redis decision in ms; past it (or on an error) the request is decided by the per-process fallback.',
    }),
    recoveryIntervalMs: Type.Integer({
      minimum: 10,
      default: 1000,
      description: 'While in fallback, how often Redis is probed to resume shared limiting, in ms.',
    }),
    keyPrefix: Type.String({ default: 'bulwark:frl:', description: 'Prefix of every Redis key.' }),
    maxKeys: Type.Integer({
      minimum: 1,
      default: 100_000,
      description: 'Most keys the per-process limiter (memory, or fallback) keeps.',
    }),
  },
  { additionalProperties: false },
);
export type FastifyRateLimitStoreOptions = Partial<
  Static<typeof FastifyRateLimitStoreOptionsSchema>
> & {
  /** Called once when an outage starts. */
  onOutage?: (error: Error) => void;
  /** Called once when shared limiting resumes. */
  onRecover?: () => void;
};

/** What @fastify/rate-limit's `store.incr` callback expects. */
interface IncrResult {
  current: number;
  ttl: number;
}

/** The params @fastify/rate-limit constructs a store with, or passes to `child()`. */
interface StoreParams {
  continueExceeding?: boolean;
  exponentialBackoff?: boolean;
  groupId?: string;
  routeInfo?: { method?: string | string[]; url?: string };
}

/** A store class for @fastify/rate-limit's `store` option. */
export interface FastifyRateLimitStoreClass {
  new (params?: object): FastifyRateLimitStoreInstance;
  /** True while Redis is unavailable and limits are decided per process. */
  readonly inFallback: boolean;
  /** Closes the store's Redis connection: call it from your app's onClose. */
  close(): void;
}

/** One store (the app's, or a route's child) as @fastify/rate-limit uses it. */
export interface FastifyRateLimitStoreInstance {
  /** @fastify/rate-limit ≥ 9 passes `timeWindow` (ms) and `max` (its published types omit them). */
  incr(
    key: string,
    callback: (error: Error | null, result?: IncrResult) => void,
    timeWindow?: number,
    max?: number,
  ): void;
  /** `params`: the route's merged rate-limit options (`routeInfo`, `groupId`, …). */
  child(params: object): FastifyRateLimitStoreInstance;
}

/**
 * A store for @fastify/rate-limit (`store` option) that brings this package's outage safety to
 * apps already using it: GCRA instead of fixed windows (no 2 × max at a window edge), one Lua
 * script per request, a deadline on every Redis call (`storeTimeoutMs`) and a per-process
 * fallback while Redis is killed, refused, hung or slow, resuming shared limiting by itself.
 * @fastify/rate-limit's own Redis store has none of these: with ioredis's offline queue a
 * request waits for the reconnect, and a blackholed Redis holds every request.
 *
 * Mapping to @fastify/rate-limit's counter model: an admitted request reports
 * `current = max − remaining` and `ttl` = time until the full `max` is back; a rejected one
 * `current = max + 1` and `ttl` = time until the next request would pass (its Retry-After).
 * `continueExceeding` and `exponentialBackoff` are fixed-window ideas and are refused.
 */
export async function createFastifyRateLimitStore(
  options: FastifyRateLimitStoreOptions = {},
): Promise<FastifyRateLimitStoreClass> {
  const { onOutage, onRecover, ...rest } = options;
  const resolved = Value.Default(FastifyRateLimitStoreOptionsSchema, { ...rest }) as Static<
    typeof FastifyRateLimitStoreOptionsSchema
  >;
  const first = Value.Errors(FastifyRateLimitStoreOptionsSchema as TSchema, resolved).First();
  if (first) {
    const path = first.path.replaceAll('/', '.').replace(/^\./, '');
    throw new InvalidOptionError(
      `createFastifyRateLimitStore option ${path} ${first.message.toLowerCase()}, got ${JSON.stringify(first.value)}`,
    );
  }

  let store: RateLimitStore;
  let bounded: BoundedStore | undefined;
  if (resolved.redis !== undefined) {
    const connect = await connectionFactory(resolved.redis);
    const redis = new RedisStore(undefined as unknown as RedisClientLike);
    bounded = new BoundedStore({
      redis,
      connect,
      timeoutMs: resolved.storeTimeoutMs,
      recoveryIntervalMs: resolved.recoveryIntervalMs,
      maxKeys: resolved.maxKeys,
      ...(onOutage ? { onOutage } : {}),
      ...(onRecover ? { onRecover } : {}),
    });
    if (await whenReady(bounded.connection, 2000)) await redis.load().catch(() => undefined);
    store = bounded;
  } else {
    store = new MemoryStore({ maxKeys: resolved.maxKeys });
  }

  const policies = new Map<string, GcraPolicy>();
  const policyFor = (max: number, timeWindow: number): GcraPolicy => {
    const id = `${max}|${timeWindow}`;
    let policy = policies.get(id);
    if (policy === undefined) {
      // @fastify/rate-limit allows max 0 (block everything) and sub-second windows: GCRA needs
      // max ≥ 1 and a window ≥ 1 ms, so 0 blocks by answering "over" without a policy.
      policy = gcraPolicy(Math.max(1, max), Math.max(1, timeWindow));
      policies.set(id, policy);
    }
    return policy;
  };
  const toResult = (decision: StoreDecision, max: number): IncrResult =>
    decision.allowed
      ? { current: max - decision.remaining, ttl: Math.ceil(decision.resetUs / 1000) }
      : { current: max + 1, ttl: Math.max(1, Math.ceil(decision.retryAfterUs / 1000)) };

  class BulwarkRateLimitStore {
    readonly #prefix: string;

    constructor(options: object = {}, prefix = resolved.keyPrefix) {
      const params = options as StoreParams;
      if (params.continueExceeding === true || params.exponentialBackoff === true) {
        throw new InvalidOptionError(
          'the Bulwark store for @fastify/rate-limit decides with GCRA, which has no continueExceeding or exponentialBackoff; remove them (a spent client waits Retry-After either way)',
        );
      }
      this.#prefix = prefix;
    }

    static get inFallback(): boolean {
      return bounded?.inFallback ?? false;
    }

    static close(): void {
      bounded?.close();
    }

    incr(
      key: string,
      callback: (error: Error | null, result?: IncrResult) => void,
      timeWindow?: number,
      max?: number,
    ): void {
      if (timeWindow === undefined || max === undefined) {
        callback(
          new InvalidOptionError(
            'the Bulwark store needs @fastify/rate-limit ≥ 9, which passes timeWindow and max to incr()',
          ),
        );
        return;
      }
      if (max < 1) {
        callback(null, { current: 1, ttl: timeWindow });
        return;
      }
      const decision = store.decide(this.#prefix + key, policyFor(max, timeWindow));
      if (decision instanceof Promise) {
        // BoundedStore never rejects: past the deadline it answers from the fallback.
        decision.then((answer) => callback(null, toResult(answer, max)), callback);
      } else {
        callback(null, toResult(decision, max));
      }
    }

    /** A route with its own limit: its own keys (per group, or per method and URL). */
    child(routeParams: object): BulwarkRateLimitStore {
      const params = routeParams as StoreParams;
      const route = params.routeInfo;
      const scope = params.groupId ?? `${String(route?.method ?? '')}:${route?.url ?? ''}`;
      return new BulwarkRateLimitStore(params, `${resolved.keyPrefix}${scope}:`);
    }
  }
  return BulwarkRateLimitStore;
}
