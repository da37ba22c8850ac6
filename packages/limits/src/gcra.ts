/**
 * GCRA (generic cell rate algorithm), the rate limiter behind every store in this package.
 *
 * A policy of `max` requests per `windowMs` lets a client burst `max` requests, then one more
 * every `windowMs / max`. Unlike fixed windows, nothing resets at a window edge: in any interval
 * of length `t` at most `max + t·max/window` requests pass, so the `2 × max` burst a fixed window
 * allows at its boundary cannot happen. State per key is one number, the theoretical arrival time
 * (TAT), so the Redis store needs one GET and one SET in a Lua script.
 *
 * Time is integer microseconds throughout. Every operation below is an integer add, subtract,
 * compare, or a floor/ceil division, so the JavaScript memory store and the Lua Redis store
 * (IEEE doubles in both) produce bit-identical decisions. Keep it that way: the property test in
 * `test/store-equivalence.test.ts` fails the moment they diverge.
 */

/** A limit in the algorithm's units. Build it with {@link gcraPolicy}. */
export interface GcraPolicy {
  /** Requests allowed in a burst, and per window on average. */
  readonly max: number;
  /** The window, in milliseconds. */
  readonly windowMs: number;
  /** Time one request costs, in microseconds: `ceil(window / max)`, at least 1. */
  readonly intervalUs: number;
  /** Burst capacity in microseconds: `max · intervalUs` (≥ the window, so a full burst fits). */
  readonly capacityUs: number;
}

/** The outcome of one request against one key. */
export interface GcraDecision {
  readonly allowed: boolean;
  /** Requests that would still pass right now, after this one. */
  readonly remaining: number;
  /** Microseconds until the full `max` is available again. */
  readonly resetUs: number;
  /** Microseconds until one more request would pass; 0 when allowed. */
  readonly retryAfterUs: number;
}

/** Builds a policy; `max` must be an integer ≥ 1 and `windowMs` an integer ≥ 1. */
export function gcraPolicy(max: number, windowMs: number): GcraPolicy {
  if (!Number.isInteger(max) || max < 1)
    throw new RangeError(`max must be an integer ≥ 1, got ${max}`);
  if (!Number.isInteger(windowMs) || windowMs < 1) {
    throw new RangeError(`windowMs must be an integer ≥ 1, got ${windowMs}`);
  }
  // Rounding the interval up keeps the average rate at or under max/window, never over.
  const intervalUs = Math.max(1, Math.ceil((windowMs * 1000) / max));
  return { max, windowMs, intervalUs, capacityUs: intervalUs * max };
}

/**
 * Decides one request. `tatUs` is the stored TAT (undefined for a new key), `nowUs` the current
 * time. Returns the decision and the TAT to store (unchanged when the request is limited, so
 * a client hammering a limit does not push its own recovery further away).
 */
export function gcra(
  tatUs: number | undefined,
  nowUs: number,
  policy: GcraPolicy,
): GcraDecision & { readonly tatUs: number } {
  const base = tatUs === undefined || tatUs < nowUs ? nowUs : tatUs;
  const next = base + policy.intervalUs;
  const diff = next - nowUs;
  if (diff > policy.capacityUs) {
    return {
      allowed: false,
      remaining: 0,
      resetUs: base - nowUs,
      retryAfterUs: diff - policy.capacityUs,
      tatUs: base,
    };
  }
  return {
    allowed: true,
    remaining: Math.floor((policy.capacityUs - diff) / policy.intervalUs),
    resetUs: diff,
    retryAfterUs: 0,
    tatUs: next,
  };
}
