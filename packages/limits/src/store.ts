import type { GcraDecision, GcraPolicy } from './gcra.js';

/** Where a decision was made. */
export type DecisionSource = 'shared' | 'local' | 'fallback';

/** A decision plus where it came from. */
export interface StoreDecision extends GcraDecision {
  /** `shared`: Redis; `local`: the memory store by configuration; `fallback`: the memory store because Redis is unavailable. */
  readonly source: DecisionSource;
}

/**
 * The seam between the rate limiter and where its state lives. One implementation per file:
 * `MemoryStore`, `RedisStore`, `BoundedStore` (Redis with a deadline and a local fallback).
 * `nowUs` is for tests; stores use their own clock when it is omitted.
 */
export interface RateLimitStore {
  decide(key: string, policy: GcraPolicy, nowUs?: number): StoreDecision | Promise<StoreDecision>;
  close?(): Promise<void> | void;
}
