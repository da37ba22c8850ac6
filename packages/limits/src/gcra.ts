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
 * A policy for which "`max` per `windowMs`" is literally true: in any window `[t, t + windowMs)`
 * at most `max` requests pass. A client may still burst `max` at once, but then earns one request
 * per `windowMs` (not per `windowMs / max`), and the full `max` is back after `max × windowMs`.
 * Why: with rate `max / window` and burst `max`, in any interval of length `t` up to
 * `max + t·max/window` pass, so a window could see `2 × max`; here the interval is the window and
 * the bound is `(capacity + t) / interval < max + 1` for `t < window`. For login tiers, where the
 * README's number must hold exactly.
 */
export function strictWindowPolicy(max: number, windowMs: number): GcraPolicy {
  const base = gcraPolicy(max, windowMs);
  const intervalUs = windowMs * 1000;
  return { ...base, intervalUs, capacityUs: intervalUs * max };
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

/** One tier of a multi-tier decision: its stored TAT and policy. */
export interface GcraItem {
  readonly tatUs: number | undefined;
  readonly policy: GcraPolicy;
}

/** The outcome of one request against several keys at once. */
export interface GcraAllDecision {
  /** True when every tier admits the request (and each is charged). */
  readonly allowed: boolean;
  /**
   * Per tier, in the given order. When the request is rejected, nothing is charged: a tier that
   * would have admitted it reports its uncharged state (its `remaining` and `resetUs` now), and
   * every tier that rejects it reports `allowed: false` with its own wait.
   */
  readonly decisions: readonly GcraDecision[];
  /** The TATs to store, one per tier, when allowed; empty when rejected (nothing is stored). */
  readonly tatsUs: readonly number[];
  /** Index of the tier that rejects with the longest wait, or -1 when allowed. */
  readonly rejectedBy: number;
}

/**
 * Decides one request against every tier that applies, all or nothing: either every tier
 * admits it and each is charged, or it is rejected by the tier with the longest wait and none
 * is charged (a request a later tier rejects must not spend an earlier tier's quota). The Redis
 * store runs the same arithmetic in one Lua script (`GCRA_LUA`); keep them identical.
 */
export function gcraAll(items: readonly GcraItem[], nowUs: number): GcraAllDecision {
  const results = items.map((item) => gcra(item.tatUs, nowUs, item.policy));
  let rejectedBy = -1;
  let longest = -1;
  for (let i = 0; i < results.length; i += 1) {
    const result = results[i]!;
    if (!result.allowed && result.retryAfterUs > longest) {
      longest = result.retryAfterUs;
      rejectedBy = i;
    }
  }
  if (rejectedBy === -1) {
    return {
      allowed: true,
      decisions: results.map(
        (result): GcraDecision => ({
          allowed: true,
          remaining: result.remaining,
          resetUs: result.resetUs,
          retryAfterUs: 0,
        }),
      ),
      tatsUs: results.map((result) => result.tatUs),
      rejectedBy,
    };
  }
  const decisions = results.map((result, i): GcraDecision => {
    if (!result.allowed) {
      return {
        allowed: false,
        remaining: 0,
        resetUs: result.resetUs,
        retryAfterUs: result.retryAfterUs,
      };
    }
    // Uncharged: the TAT before this request, so one more request than after charging it.
    return {
      allowed: true,
      remaining: result.remaining + 1,
      resetUs: result.resetUs - items[i]!.policy.intervalUs,
      retryAfterUs: 0,
    };
  });
  return {
    allowed: false,
    decisions,
    tatsUs: [],
    rejectedBy,
  };
}
