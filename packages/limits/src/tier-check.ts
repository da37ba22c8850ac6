import { performance } from 'node:perf_hooks';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GcraDecision, GcraPolicy } from './gcra.js';
import type { MultiDecision, RateLimitStore, StoreDecision, TierRequest } from './store.js';
import { kStoreWaitMs, type StoreWaitCarrier } from './store-wait.js';

/** The rate-limit tiers, in the order a request meets them (`auth*`: the login tiers). */
export const TIERS = ['global', 'tenant', 'user', 'auth', 'authAccount', 'authIp'] as const;
export type TierName = (typeof TIERS)[number];

/** One tier policy as a route uses it. */
export interface Limiter {
  readonly tier: TierName;
  readonly policy: GcraPolicy;
  readonly prefix: string;
  /** `"user";q=60;w=60` */
  readonly policyItem: string;
  readonly extract: (request: FastifyRequest) => string | undefined;
  readonly count: Record<'allowed' | 'limited' | 'fallback', () => void>;
}

/** Callback-style hook body: calls `done()` when the request may go on, or sends the 429 and does not. */
export type RateLimitCheck = (
  request: FastifyRequest,
  reply: FastifyReply,
  done: (error?: Error) => void,
) => void;

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The body Fastify's error handler makes from `new RateLimitedError(tier, seconds)`, without
 * building the error (test/errors.test.ts keeps the two identical).
 */
export function rateLimitedBody(tier: string, seconds: number): string {
  return `{"statusCode":429,"code":"BULWARK_LIMITS_RATE_LIMITED","error":"Too Many Requests","message":"Too many requests for the ${tier} rate limit; retry after ${seconds} seconds"}`;
}

const kPendingGlobal = Symbol('bulwark.limits.pendingGlobal');
type PendingCarrier = FastifyRequest & { [kPendingGlobal]?: true };

/**
 * Per-process memory of which clients have spent their per-IP budget, for routes whose per-IP
 * tier is decided late (see `deferredGlobal`). Fed by every decision that includes the per-IP
 * tier; read synchronously in onRequest. Bounded like the memory store.
 */
class SpentClients {
  readonly #until = new Map<string, number>();
  readonly #maxKeys: number;
  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys;
  }
  /** ms (Date.now()) until which `key` is spent, if it is now. */
  spentUntil(key: string, nowMs: number): number | undefined {
    const until = this.#until.get(key);
    if (until === undefined) return undefined;
    if (until > nowMs) return until;
    this.#until.delete(key);
    return undefined;
  }
  learn(key: string, policy: GcraPolicy, decision: GcraDecision, charged: boolean): void {
    let waitUs = 0;
    if (!decision.allowed) waitUs = decision.retryAfterUs;
    else if (charged && decision.remaining === 0) {
      // The next request passes once TAT + interval − capacity is reached (see gcra()).
      waitUs = decision.resetUs + policy.intervalUs - policy.capacityUs;
    }
    if (waitUs <= 0) {
      this.#until.delete(key);
      return;
    }
    this.#until.set(key, Date.now() + waitUs / 1000);
    if (this.#until.size > this.#maxKeys) {
      const oldest = this.#until.keys().next().value;
      if (oldest !== undefined) this.#until.delete(oldest);
    }
  }
}

/**
 * Builds the hook bodies that decide a request's tiers. Every tier of one decision goes to the
 * store in one `decideAll` call: one Lua script with Redis, one synchronous step in memory; all
 * admit and are charged, or the tier with the longest wait rejects and nothing is charged.
 */
export function createTierChecks(store: RateLimitStore, legacy: boolean, maxKeys: number) {
  const spent = new SpentClients(maxKeys);
  // Only routes with a deferred per-IP tier read what `spent` learns; until one exists, the
  // per-request bookkeeping is skipped.
  let spentRead = false;

  function answer(
    used: readonly Limiter[],
    tiers: readonly TierRequest[],
    result: MultiDecision,
    reply: FastifyReply,
  ): boolean {
    const fallback = result.source === 'fallback';
    let policies = '';
    let states = '';
    let tightest = -1;
    let tightestRemaining = Number.POSITIVE_INFINITY;
    for (let i = 0; i < used.length; i += 1) {
      const limiter = used[i]!;
      const decision = result.decisions[i]!;
      if (limiter.tier === 'global' && spentRead) {
        spent.learn(tiers[i]!.key, limiter.policy, decision, result.allowed);
      }
      if (result.allowed) limiter.count[fallback ? 'fallback' : 'allowed']();
      else if (i === result.rejectedBy) limiter.count[fallback ? 'fallback' : 'limited']();
      const remaining = decision.allowed ? decision.remaining : 0;
      const seconds = Math.ceil(
        (decision.allowed ? decision.resetUs : decision.retryAfterUs) / 1e6,
      );
      policies += policies ? `, ${limiter.policyItem}` : limiter.policyItem;
      const state = `"${limiter.tier}";r=${remaining};t=${seconds}`;
      states += states ? `, ${state}` : state;
      if (legacy && remaining < tightestRemaining) {
        tightest = i;
        tightestRemaining = remaining;
      }
    }
    if (result.allowed) {
      reply.header('ratelimit-policy', policies);
      reply.header('ratelimit', states);
      if (legacy && tightest !== -1) {
        const decision = result.decisions[tightest]!;
        reply.header('x-ratelimit-limit', used[tightest]!.policy.max);
        reply.header('x-ratelimit-remaining', decision.remaining);
        reply.header('x-ratelimit-reset', Math.ceil(decision.resetUs / 1e6));
      }
      return true;
    }
    const rejected = used[result.rejectedBy]!;
    const seconds = Math.ceil(result.decisions[result.rejectedBy]!.retryAfterUs / 1e6);
    const headers: Record<string, string> = {
      'retry-after': String(seconds),
      'ratelimit-policy': policies,
      ratelimit: states,
    };
    if (legacy) {
      headers['x-ratelimit-limit'] = String(rejected.policy.max);
      headers['x-ratelimit-remaining'] = '0';
      headers['x-ratelimit-reset'] = String(seconds);
    }
    // Sent directly, not thrown: under a flood, building an Error (stack capture) and running
    // the error handler for every rejected request is work an attacker chooses. The body is
    // exactly what the error handler would produce from RateLimitedError.
    reply.code(429).headers(headers).type(JSON_TYPE).send(rateLimitedBody(rejected.tier, seconds));
    return false;
  }

  /**
   * The hook body deciding `phase` (every tier of the route decided at this point) in one store
   * call. The store is asked directly, not through @fastify/rate-limit's per-request handler:
   * that handler is an async function that awaits the key generator and wraps every store call in
   * a promise; measured (paired, both servers loaded at once on one core) it held the memory-store
   * row at 0.53 of bare against 0.71 decided synchronously. A synchronous store (memory, or Redis
   * in fallback) decides without a promise; Redis costs one.
   */
  function phase(limiters: readonly Limiter[]): RateLimitCheck {
    const single = limiters.length === 1 ? limiters[0]! : undefined;
    if (single !== undefined) return one(single);
    return function bulwarkRateLimit(request, reply, done) {
      (request as PendingCarrier)[kPendingGlobal] = undefined;
      const used: Limiter[] = [];
      const tiers: TierRequest[] = [];
      for (const limiter of limiters) {
        const key = limiter.extract(request);
        if (key === undefined) continue;
        used.push(limiter);
        tiers.push({ key: limiter.prefix + key, policy: limiter.policy });
      }
      if (used.length === 0) return done();
      const result = store.decideAll(tiers);
      if (result instanceof Promise) {
        // Only the shared store answers later; its wait is left on the request for the shedder.
        const started = performance.now();
        result.then((answered) => {
          const carrier = request as StoreWaitCarrier;
          carrier[kStoreWaitMs] = (carrier[kStoreWaitMs] ?? 0) + performance.now() - started;
          if (answer(used, tiers, answered, reply)) done();
        }, done);
        return;
      }
      if (answer(used, tiers, result, reply)) done();
    };
  }

  /**
   * One tier (most requests: the per-IP tier alone): the same decision through the store's
   * one-key `decide`, without the arrays of the multi-tier path.
   */
  function one(limiter: Limiter): RateLimitCheck {
    const headers = oneTier(limiter);
    return function bulwarkRateLimit(request, reply, done) {
      const id = limiter.extract(request);
      if (id === undefined) return done();
      const key = limiter.prefix + id;
      const decision = store.decide(key, limiter.policy);
      if (decision instanceof Promise) {
        const started = performance.now();
        decision.then((answered) => {
          const carrier = request as StoreWaitCarrier;
          carrier[kStoreWaitMs] = (carrier[kStoreWaitMs] ?? 0) + performance.now() - started;
          if (headers(key, answered, reply)) done();
        }, done);
        return;
      }
      if (headers(key, decision, reply)) done();
    };
  }

  /** Answers one tier's decision: headers when allowed, the 429 when not. */
  function oneTier(limiter: Limiter) {
    const policyItem = limiter.policyItem;
    const prefix = `"${limiter.tier}";r=`;
    const global = limiter.tier === 'global';
    return function answerOne(key: string, decision: StoreDecision, reply: FastifyReply): boolean {
      if (global && spentRead) spent.learn(key, limiter.policy, decision, true);
      const fallback = decision.source === 'fallback';
      if (decision.allowed) {
        limiter.count[fallback ? 'fallback' : 'allowed']();
        const seconds = Math.ceil(decision.resetUs / 1e6);
        reply.header('ratelimit-policy', policyItem);
        reply.header('ratelimit', `${prefix}${decision.remaining};t=${seconds}`);
        if (legacy) {
          reply.header('x-ratelimit-limit', limiter.policy.max);
          reply.header('x-ratelimit-remaining', decision.remaining);
          reply.header('x-ratelimit-reset', seconds);
        }
        return true;
      }
      limiter.count[fallback ? 'fallback' : 'limited']();
      const seconds = Math.ceil(decision.retryAfterUs / 1e6);
      const headers: Record<string, string> = {
        'retry-after': String(seconds),
        'ratelimit-policy': policyItem,
        ratelimit: `${prefix}0;t=${seconds}`,
      };
      if (legacy) {
        headers['x-ratelimit-limit'] = String(limiter.policy.max);
        headers['x-ratelimit-remaining'] = '0';
        headers['x-ratelimit-reset'] = String(seconds);
      }
      reply.code(429).headers(headers).type(JSON_TYPE).send(rateLimitedBody(limiter.tier, seconds));
      return false;
    };
  }

  /**
   * For a route whose other tiers need what the app's hooks establish (so they are decided in
   * preHandler, together with the per-IP tier, in one store call), the per-IP tier still has to
   * see requests answered before preHandler (a 401 from an auth hook, a 413, a 415):
   * - `onRequest` answers 429 at once when this process knows the client's per-IP budget is
   *   spent (learned from every per-IP decision it made), and otherwise marks the request;
   * - `onSend` charges a still-marked request (answered before preHandler) to the per-IP tier,
   *   before its response is written, so the next request meets the updated budget.
   */
  function deferredGlobal(global: Limiter) {
    spentRead = true;
    const policyHeader = global.policyItem;
    const onRequest: RateLimitCheck = function bulwarkSpentCheck(request, reply, done) {
      const key = global.extract(request);
      if (key === undefined) return done();
      const nowMs = Date.now();
      const until = spent.spentUntil(global.prefix + key, nowMs);
      if (until === undefined) {
        (request as PendingCarrier)[kPendingGlobal] = true;
        return done();
      }
      global.count.limited();
      const seconds = Math.ceil((until - nowMs) / 1000);
      const headers: Record<string, string> = {
        'retry-after': String(seconds),
        'ratelimit-policy': policyHeader,
        ratelimit: `"global";r=0;t=${seconds}`,
      };
      if (legacy) {
        headers['x-ratelimit-limit'] = String(global.policy.max);
        headers['x-ratelimit-remaining'] = '0';
        headers['x-ratelimit-reset'] = String(seconds);
      }
      reply.code(429).headers(headers).type(JSON_TYPE).send(rateLimitedBody('global', seconds));
    };
    const onSend = function bulwarkChargeEarlyAnswer(
      request: FastifyRequest,
      _reply: FastifyReply,
      payload: unknown,
      done: (error: Error | null, payload: unknown) => void,
    ): void {
      if ((request as PendingCarrier)[kPendingGlobal] !== true) {
        done(null, payload);
        return;
      }
      (request as PendingCarrier)[kPendingGlobal] = undefined;
      const key = global.prefix + global.extract(request);
      const tiers = [{ key, policy: global.policy }];
      const learn = (result: MultiDecision) => {
        spent.learn(key, global.policy, result.decisions[0]!, result.allowed);
        global.count[
          result.source === 'fallback' ? 'fallback' : result.allowed ? 'allowed' : 'limited'
        ]();
      };
      const result = store.decideAll(tiers);
      if (result instanceof Promise) {
        result.then(learn, () => undefined).finally(() => done(null, payload));
        return;
      }
      learn(result);
      done(null, payload);
    };
    return { onRequest, onSend };
  }

  return { phase, deferredGlobal };
}
