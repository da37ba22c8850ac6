import type { FastifyInstance, RouteOptions } from 'fastify';
import { BoundedStore } from './bounded-store.js';
import { InvalidOptionError } from './errors.js';
import { gcraPolicy, strictWindowPolicy } from './gcra.js';
import { type CounterLike, counterFor, type HealthLike, type MetricsLike } from './integrations.js';
import { MemoryStore } from './memory-store.js';
import type { KeyExtractor, ResolvedLimitsOptions, TierOptions } from './options.js';
import { connectionFactory, whenReady } from './redis-connection.js';
import { type RedisClientLike, RedisStore } from './redis-store.js';
import { addRouteHook } from './route-hooks.js';
import type { RateLimitStore } from './store.js';
import {
  createTierChecks,
  type Limiter,
  type RateLimitCheck,
  TIERS,
  type TierName,
} from './tier-check.js';

export { type RateLimitCheck, rateLimitedBody, TIERS, type TierName } from './tier-check.js';

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
  if (tier === 'authIp') return (request) => request.ip;
  return (request) => asKey(key(request));
}

/** The login tiers: on wherever the auth tier is, keyed from `auth.key`, strict windows. */
const LOGIN_TIERS: ReadonlySet<TierName> = new Set(['auth', 'authAccount', 'authIp']);

/** A tier's options, the login tiers' included (they share `auth.key`; `false` is off). */
function tierOptions(options: ResolvedLimitsOptions, tier: TierName): TierOptions | undefined {
  if (tier === 'authAccount' || tier === 'authIp') {
    const login = options[tier];
    if (login === false) return undefined;
    return { ...login, everyRoute: false, key: options.auth.key };
  }
  return options[tier] as TierOptions;
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

  // Redis Cluster: one hash tag on every key, so one request's keys share a slot.
  const tag = options.hashTag ? `{${options.hashTag}}` : '';
  let store: RateLimitStore;
  let bounded: BoundedStore | undefined;
  let closeConnection: (() => Promise<void>) | undefined;
  if (useRedis && redisSource !== undefined) {
    const connect = await connectionFactory(redisSource);
    const redis = new RedisStore(undefined as unknown as RedisClientLike);
    const probeKey = `${options.keyPrefix}${tag}probe`;
    const probePolicy = gcraPolicy(1_000_000, 1000);
    bounded = new BoundedStore({
      redis,
      connect,
      // A decision on a key of the limiter's own hash slot: on Redis Cluster, SCRIPT LOAD alone
      // succeeds on any node while the slot's master is down.
      probe: async () => {
        await redis.load();
        await redis.decide(probeKey, probePolicy);
      },
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
    const resolved = tierOptions(options, tier);
    if (!resolved) return undefined;
    const extract = extractorFor(tier, resolved.key);
    if (!extract) return undefined;
    const max = override?.max ?? resolved.max;
    const windowMs = override?.windowMs ?? resolved.windowMs;
    const custom =
      override &&
      (override.max !== undefined ||
        override.windowMs !== undefined ||
        override.group !== undefined);
    const group = custom ? (override.group ?? route.url) : '';
    const id = `${tier}|${max}|${windowMs}|${group}`;
    const existing = limiters.get(id);
    if (existing) return existing;
    const policy = LOGIN_TIERS.has(tier)
      ? strictWindowPolicy(max, windowMs)
      : gcraPolicy(max, windowMs);
    const limiter: Limiter = {
      tier,
      policy,
      prefix: `${options.keyPrefix}${tag}${tier}:${group ? `${group}:${max}:${windowMs}:` : ''}`,
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

  const checks = createTierChecks(store, options.legacyHeaders, options.maxKeys);

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
      let loginRoute = false;
      for (const tier of TIERS) {
        const setting = config.limits?.[tier];
        let on: boolean;
        if (tier === 'authAccount' || tier === 'authIp') {
          // On wherever the auth tier is, unless this route or the options turn it off.
          on = loginRoute && setting !== false && tierOptions(options, tier) !== undefined;
        } else {
          on =
            setting === undefined ? (options[tier] as TierOptions).everyRoute : setting !== false;
          if (tier === 'auth') loginRoute = on;
        }
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
        (tier === 'global' ? early : late).push(limiter);
      }
      const global = early[0];
      // Only the per-IP tier: decided in onRequest, before the body is read.
      if (late.length === 0 || !attachLate) return global ? checks.phase([global]) : undefined;
      // The other tiers need what the app's own hooks (authentication, body parsing) establish,
      // so they run last, in preHandler, and the per-IP tier is decided with them in the same
      // store call; requests answered before preHandler are charged to it as they are sent.
      addRouteHook(route, 'preHandler', checks.phase(global ? [global, ...late] : late));
      if (!global) return undefined;
      const deferred = checks.deferredGlobal(global);
      addRouteHook(route, 'onSend', deferred.onSend);
      return deferred.onRequest;
    },
    async close() {
      await closeConnection?.();
    },
  };
}
