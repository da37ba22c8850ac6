import type { GcraDecision, GcraPolicy } from './gcra.js';

/** Where a decision was made. */
export type DecisionSource = 'shared' | 'local' | 'fallback';

/** A decision plus where it came from. */
export interface StoreDecision extends GcraDecision {
  /** `shared`: Redis; `local`: the memory store by configuration; `fallback`: the memory store because Redis is unavailable. */
  readonly source: DecisionSource;
}

/** One tier of a request: the key it is counted under and its policy. */
export interface TierRequest {
  readonly key: string;
  readonly policy: GcraPolicy;
}

/** One request decided against all its tiers at once (see `gcraAll`). */
export interface MultiDecision {
  /** True when every tier admitted the request and each was charged; false when none was. */
  readonly allowed: boolean;
  /** Per tier, in the order asked. */
  readonly decisions: readonly GcraDecision[];
  /** The tier that rejected it (the longest wait), or -1. */
  readonly rejectedBy: number;
  readonly source: DecisionSource;
}

/**
 * The seam between the rate limiter and where its state lives. One implementation per file:
 * `MemoryStore`, `RedisStore`, `BoundedStore` (Redis with a deadline and a local fallback).
 * `nowUs` is for tests; stores use their own clock when it is omitted.
 */
export interface RateLimitStore {
  /** One key: the single-tier case of {@link RateLimitStore.decideAll}. */
  decide(key: string, policy: GcraPolicy, nowUs?: number): StoreDecision | Promise<StoreDecision>;
  /**
   * Every tier of one request in one step (one Lua script with Redis, one synchronous step in
   * memory): all admit and are charged, or the request is rejected and nothing is charged.
   */
  decideAll(tiers: readonly TierRequest[], nowUs?: number): MultiDecision | Promise<MultiDecision>;
  close?(): Promise<void> | void;
}
