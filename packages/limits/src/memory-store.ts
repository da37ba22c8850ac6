import { type GcraPolicy, gcra } from './gcra.js';
import type { DecisionSource, RateLimitStore, StoreDecision } from './store.js';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** Most keys kept; past it the least recently used key is dropped. @default 100000 */
  maxKeys?: number;
  /** What decisions report as their source. @default 'local' */
  source?: DecisionSource;
}

/**
 * Per-process GCRA state: one Map from key to TAT, in least-recently-used order (a key is
 * re-inserted on every allowed request). Expired keys are dropped lazily as the map is bounded;
 * an expired key decides exactly like a missing one, so dropping it changes nothing.
 */
export class MemoryStore implements RateLimitStore {
  readonly #tats = new Map<string, number>();
  readonly #maxKeys: number;
  readonly #source: DecisionSource;

  constructor(options: MemoryStoreOptions = {}) {
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#source = options.source ?? 'local';
  }

  /** Keys held now. */
  get size(): number {
    return this.#tats.size;
  }

  decide(key: string, policy: GcraPolicy, nowUs: number = Date.now() * 1000): StoreDecision {
    const stored = this.#tats.get(key);
    const result = gcra(stored, nowUs, policy);
    if (result.allowed) {
      this.#tats.delete(key);
      this.#tats.set(key, result.tatUs);
      if (this.#tats.size > this.#maxKeys) this.#evict(nowUs);
    }
    return {
      allowed: result.allowed,
      remaining: result.remaining,
      resetUs: result.resetUs,
      retryAfterUs: result.retryAfterUs,
      source: this.#source,
    };
  }

  clear(): void {
    this.#tats.clear();
  }

  // Drops expired keys from the old end first; if none has expired, the least recently used.
  #evict(nowUs: number): void {
    let dropped = 0;
    for (const [key, tat] of this.#tats) {
      if (tat > nowUs && dropped > 0) break;
      this.#tats.delete(key);
      dropped += 1;
      if (tat > nowUs || dropped >= 64) break;
    }
  }
}
