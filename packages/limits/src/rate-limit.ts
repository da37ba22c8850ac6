import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { BoundedStore } from './bounded-store.js';
import { InvalidOptionError } from './errors.js';
import { type GcraPolicy, gcraPolicy } from './gcra.js';
import { type CounterLike, counterFor, type HealthLike, type MetricsLike } from './integrations.js';
import { MemoryStore } from './memory-store.js';
import type { KeyExtractor, ResolvedLimitsOptions, TierOptions } from './options.js';
import { connectionFactory, whenReady } from './redis-connection.js';
import { type RedisClientLike, RedisStore } from './redis-store.js';
import { addRouteHook } from './route-hooks.js';
import type { RateLimitStore, StoreDecision } from './store.js';
import { kStoreWaitMs, type StoreWaitCarrier } from './store-wait.js';

/** The rate-limit tiers, in the order a request meets them. */
export const TIERS = ['global', 'tenant', 'user', 'auth'] as const;
export type TierName = (typeof TIERS)[number];

/** A tier's limit overridden for one route. `group` shares the bucket between routes. */
export interface TierOverride {
  /** Requests per window (and burst). */
  max?: number;
  /** Window in ms. */
  windowMs?: number;
  /** Routes with the same group share one bucket. @default the route URL (so GET and HEAD share) */
  group?: string;
}

/** Route config of a tier: true opts in, false opts out, an object opts in with its own limit. */
export type TierRouteConfig = boolean | TierOverride;

interface Limiter {
  readonly tier: TierName;
  readonly policy: GcraPolicy;
  readonly prefix: string;
  /** `"user";q=60;w=60` */
  readonly policyItem: string;
  readonly extract: (request: FastifyRequest) => string | undefined;
  count: Record<'allowed' | 'limited' | 'fallback', () => void>;
}

/** What the tiers of one phase have said so far, for the response headers. */
interface Verdicts {
  policies: string;
  states: string;
  /** With legacy headers: the tier with the fewest requests left. */
  tightest: { limiter: Limiter; remaining: number; seconds: number } | undefined;
}

/** Callback-style hook body: calls `done()` when every tier allows, or sends the 429 and does not. */
export type RateLimitCheck = (
  request: FastifyRequest,
  reply: FastifyReply,
  done: (error?: Error) => void,
) => void;

/** What the rate limiter exposes to the plugin. */
export interface RateLimitEngine {
  readonly storeKind: 'memory' | 'redis';
  readonly inFallback: boolean;
  /**
   * Sets up this route's tiers, per its config and the tier defaults: adds a preHandler hook for
   * the tiers that need what the app's hooks establish (tenant, user, account) and returns the
   * per-IP check for the plugin's own onRequest hook, if this route has one.
   */
  onRoute(route: RouteOptions, attachLate?: boolean): RateLimitCheck | undefined;
  close(): Promise<void>;
}

function asKey(value: string | number | undefined | null): string | undefined {
  return value === undefined || value === null || value === '' ? undefined : String(value);
}

function extractorFor(
  tier: TierName,
  key: KeyExtractor | undefined,
): Limiter['extract'] | undefined {
  if (tier === 'global') return (request) => request.ip;
  if (!key) return undefined;
  if (tier === 'auth') return (request) => `${request.ip}|${asKey(key(request)) ?? ''}`;
  return (request) => asKey(key(request));
}

/**
 * Builds the tiered limiter: one GCRA store (memory, or Redis with a deadline and a local
 * fallback) shared by every tier policy, and per route a check that asks it once per tier.
 */
export async function createRateLimitEngine(
  fastify: FastifyInstance,
  options: ResolvedLimitsOptions,
): Promise<RateLimitEngine> {
  const metrics = fastify.hasDecorator('metrics')
    ? (fastify as unknown as { metrics: MetricsLike }).metrics
    : undefined;
  const health = fastify.hasDecorator('health')
    ? (fastify as unknown as { health: HealthLike }).health
    : undefined;

  const decisions: CounterLike | undefined = metrics?.counter({
    name: 'rate_limit_decisions_total',
    help: 'Rate-limit decisions by tier and outcome (fallback: decided by the per-process guard while the shared store is unavailable)',
    labelNames: ['tier', 'outcome'],
  });
  const fallbackGauge = metrics?.gauge({
    name: 'rate_limit_store_fallback',
    help: '1 while rate limits are decided per process because the shared store is unavailable',
  });
  fallbackGauge?.set(0);

  // Which store.
  let redisSource: string | RedisClientLike | undefined = options.redis;
  if (redisSource === undefined && options.store !== 'memory' && fastify.hasDecorator('redis')) {
    const candidate = (fastify as unknown as { redis: RedisClientLike }).redis;
    if (typeof candidate?.evalsha === 'function') redisSource = candidate;
  }
  if (options.store === 'redis' && redisSource === undefined) {
    throw new InvalidOptionError(
      "option store is 'redis' but there is no client: pass `redis` (URL or ioredis client) or register @fastify/redis first",
    );
  }
  const useRedis = options.store !== 'memory' && redisSource !== undefined;

  let store: RateLimitStore;
  let bounded: BoundedStore | undefined;
  let closeConnection: (() => Promise<void>) | undefined;
  if (useRedis && redisSource !== undefined) {
    const connect = await connectionFactory(redisSource);
    const redis = new RedisStore(undefined as unknown as RedisClientLike);
    bounded = new BoundedStore({
      redis,
      connect,
      timeoutMs: options.storeTimeoutMs,
      recoveryIntervalMs: options.recoveryIntervalMs,
      maxKeys: options.maxKeys,
      onOutage(error) {
        fallbackGauge?.set(1);
        fastify.log.warn(
          { err: error },
          'rate limit store unavailable: limiting per process until it returns',
        );
      },
      onRecover() {
        fallbackGauge?.set(0);
        fastify.log.info('rate limit store is back: shared limiting resumed');
      },
    });
    if (await whenReady(bounded.connection, 2000)) {
      await redis.load().catch(() => undefined);
    }
    store = bounded;
    closeConnection = async () => {
      bounded?.close();
    };
    health?.register({
      name: 'rate-limit-store',
      critical: false,
      async check() {
        if (bounded?.inFallback) {
          throw new Error('rate limit store unavailable: limits are enforced per process');
        }
        return { store: 'redis' };
      },
    });
  } else {
    store = new MemoryStore({ maxKeys: options.maxKeys });
  }

  const noop = () => {};
  const limiters = new Map<string, Limiter>();
  function limiterFor(
    tier: TierName,
    override: TierOverride | undefined,
    route: RouteOptions,
  ): Limiter | undefined {
    const tierOptions = options[tier] as TierOptions;
    const extract = extractorFor(tier, tierOptions.key);
    if (!extract) return undefined;
    const max = override?.max ?? tierOptions.max;
    const windowMs = override?.windowMs ?? tierOptions.windowMs;
    const custom =
      override &&
      (override.max !== undefined ||
        override.windowMs !== undefined ||
        override.group !== undefined);
    const group = custom ? (override.group ?? route.url) : '';
    const id = `${tier}|${max}|${windowMs}|${group}`;
    const existing = limiters.get(id);
    if (existing) return existing;
    const policy = gcraPolicy(max, windowMs);
    const limiter: Limiter = {
      tier,
      policy,
      prefix: `${options.keyPrefix}${tier}:${group ? `${group}:${max}:${windowMs}:` : ''}`,
      policyItem: `"${tier}";q=${max};w=${Math.max(1, Math.round(windowMs / 1000))}`,
      extract,
      count: {
        allowed: decisions ? counterFor(decisions, { tier, outcome: 'allowed' }) : noop,
        limited: decisions ? counterFor(decisions, { tier, outcome: 'limited' }) : noop,
        fallback: decisions ? counterFor(decisions, { tier, outcome: 'fallback' }) : noop,
      },
    };
    limiters.set(id, limiter);
    return limiter;
  }

  const legacy = options.legacyHeaders;

  /**
   * Applies one tier's decision: counts it and adds it to the verdicts; when it says no, sends
   * the 429 and returns false.
   */
  function apply(
    limiter: Limiter,
    decision: StoreDecision,
    verdicts: Verdicts,
    reply: FastifyReply,
  ): boolean {
    limiter.count[
      decision.source === 'fallback' ? 'fallback' : decision.allowed ? 'allowed' : 'limited'
    ]();
    const remaining = decision.allowed ? decision.remaining : 0;
    const seconds = Math.ceil((decision.allowed ? decision.resetUs : decision.retryAfterUs) / 1e6);
    verdicts.policies += verdicts.policies ? `, ${limiter.policyItem}` : limiter.policyItem;
    const state = `"${limiter.tier}";r=${remaining};t=${seconds}`;
    verdicts.states += verdicts.states ? `, ${state}` : state;
    if (legacy && (!verdicts.tightest || remaining < verdicts.tightest.remaining)) {
      verdicts.tightest = { limiter, remaining, seconds };
    }
    if (decision.allowed) return true;
    const headers: Record<string, string> = {
      'retry-after': String(seconds),
      'ratelimit-policy': join(reply.getHeader('ratelimit-policy'), verdicts.policies),
      ratelimit: join(reply.getHeader('ratelimit'), verdicts.states),
    };
    if (legacy) {
      headers['x-ratelimit-limit'] = String(limiter.policy.max);
      headers['x-ratelimit-remaining'] = '0';
      headers['x-ratelimit-reset'] = String(seconds);
    }
    // Sent directly, not thrown: under a flood, building an Error (stack capture) and running
    // the error handler for every rejected request is work an attacker chooses. The body is
    // exactly what the error handler would produce from RateLimitedError.
    reply.code(429).headers(headers).type(JSON_TYPE).send(rateLimitedBody(limiter.tier, seconds));
    return false;
  }

  /** Every tier of the phase allowed: the RateLimit headers of the allowed response. */
  function allowHeaders(verdicts: Verdicts, reply: FastifyReply, first: boolean): void {
    if (!verdicts.policies) return;
    if (first) {
      reply.header('ratelimit-policy', verdicts.policies);
      reply.header('ratelimit', verdicts.states);
    } else {
      reply.header(
        'ratelimit-policy',
        join(reply.getHeader('ratelimit-policy'), verdicts.policies),
      );
      reply.header('ratelimit', join(reply.getHeader('ratelimit'), verdicts.states));
    }
    const tightest = verdicts.tightest;
    if (tightest) {
      const previous = Number(reply.getHeader('x-ratelimit-remaining') ?? Number.POSITIVE_INFINITY);
      if (tightest.remaining < previous) {
        reply.header('x-ratelimit-limit', tightest.limiter.policy.max);
        reply.header('x-ratelimit-remaining', tightest.remaining);
        reply.header('x-ratelimit-reset', tightest.seconds);
      }
    }
  }

  /**
   * The hook body for one phase of tiers. The store is asked directly, not through
   * @fastify/rate-limit's per-request handler: that handler is an async function that awaits the
   * key generator and wraps every store call in a promise, so even a decision the memory store
   * makes synchronously continued the request from a microtask chain; measured (paired, both
   * servers loaded at once on one core) it held the memory-store row at 0.53 of bare against 0.71
   * when decided synchronously. A synchronous store (memory, or Redis in fallback) now decides
   * without a promise; Redis costs one.
   */
  function checkFor(phase: Limiter[], first: boolean): RateLimitCheck {
    function from(
      index: number,
      verdicts: Verdicts,
      request: FastifyRequest,
      reply: FastifyReply,
      done: (error?: Error) => void,
    ): void {
      for (let i = index; i < phase.length; i += 1) {
        const limiter = phase[i]!;
        const key = limiter.extract(request);
        if (key === undefined) continue;
        const decision = store.decide(limiter.prefix + key, limiter.policy);
        if (decision instanceof Promise) {
          // Only the shared store answers later; its wait is left on the request for the shedder.
          const started = performance.now();
          decision.then((answer) => {
            const carrier = request as StoreWaitCarrier;
            carrier[kStoreWaitMs] = (carrier[kStoreWaitMs] ?? 0) + performance.now() - started;
            if (apply(limiter, answer, verdicts, reply))
              from(i + 1, verdicts, request, reply, done);
          }, done);
          return;
        }
        if (!apply(limiter, decision, verdicts, reply)) return;
      }
      allowHeaders(verdicts, reply, first);
      done();
    }
    return function bulwarkRateLimit(request, reply, done) {
      from(0, { policies: '', states: '', tightest: undefined }, request, reply, done);
    };
  }

  return {
    storeKind: useRedis ? 'redis' : 'memory',
    get inFallback() {
      return bounded?.inFallback ?? false;
    },
    onRoute(route, attachLate = true) {
      const config = (route.config ?? {}) as {
        bulwarkProbe?: boolean;
        limits?: Partial<Record<TierName, TierRouteConfig>>;
      };
      if (config.bulwarkProbe === true) return undefined;
      const early: Limiter[] = [];
      const late: Limiter[] = [];
      for (const tier of TIERS) {
        const setting = config.limits?.[tier];
        const on =
          setting === undefined ? (options[tier] as TierOptions).everyRoute : setting !== false;
        if (!on) continue;
        const limiter = limiterFor(tier, typeof setting === 'object' ? setting : undefined, route);
        if (!limiter) {
          if (!attachLate) continue;
          // A route that asks for a tier nobody can key must not be silently unprotected.
          if (setting !== undefined) {
            throw new InvalidOptionError(
              `route ${String(route.method)} ${route.url} opts into the ${tier} tier, but option ${tier}.key is not set; pass ${tier}.key (a function reading the ${tier === 'auth' ? 'account' : tier} id from the request)`,
            );
          }
          continue;
        }
        // The per-IP tier runs before the body is read; the others need what the app's own
        // hooks (authentication, body parsing) establish, so they run last, in preHandler.
        (tier === 'global' ? early : late).push(limiter);
      }
      if (attachLate && late.length > 0)
        addRouteHook(route, 'preHandler', checkFor(late, early.length === 0));
      return early.length > 0 ? checkFor(early, true) : undefined;
    },
    async close() {
      await closeConnection?.();
    },
  };
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The body Fastify's error handler makes from `new RateLimitedError(tier, seconds)`, without
 * building the error (test/errors.test.ts keeps the two identical).
 */
export function rateLimitedBody(tier: string, seconds: number): string {
  return `{"statusCode":429,"code":"BULWARK_LIMITS_RATE_LIMITED","error":"Too Many Requests","message":"Too many requests for the ${tier} rate limit; retry after ${seconds} seconds"}`;
}

function join(existing: unknown, added: string): string {
  return typeof existing === 'string' && existing ? `${existing}, ${added}` : added;
}
