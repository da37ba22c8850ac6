import { type GcraPolicy, gcra, gcraAll } from './gcra.js';
import type {
  DecisionSource,
  MultiDecision,
  RateLimitStore,
  StoreDecision,
  TierRequest,
} from './store.js';

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
    // The one-tier case without gcraAll's arrays: most requests meet only the per-IP tier.
    const result = gcra(this.#tats.get(key), nowUs, policy);
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

  decideAll(tiers: readonly TierRequest[], nowUs: number = Date.now() * 1000): MultiDecision {
    const tats = this.#tats;
    const result = gcraAll(
      tiers.map((tier) => ({ tatUs: tats.get(tier.key), policy: tier.policy })),
      nowUs,
    );
    if (result.allowed) {
      for (let i = 0; i < tiers.length; i += 1) {
        const key = tiers[i]!.key;
        tats.delete(key);
        tats.set(key, result.tatsUs[i]!);
      }
      if (tats.size > this.#maxKeys) this.#evict(nowUs);
    }
    return {
      allowed: result.allowed,
      decisions: result.decisions,
      rejectedBy: result.rejectedBy,
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
