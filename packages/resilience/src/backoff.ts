/** How a retry delay is randomised. */
export type Jitter = 'full' | 'decorrelated' | 'none';

/** Backoff settings; every duration is in milliseconds. */
export interface BackoffOptions {
  /** Delay before the first retry (the ceiling for `full`, the floor for `decorrelated`). @default 100 */
  baseDelayMs?: number;
  /** Growth factor per attempt. @default 2 */
  factor?: number;
  /** No delay exceeds this. @default 5000 */
  maxDelayMs?: number;
  /** `full`: uniform in [0, min(max, base·factor^n)]; `decorrelated`: uniform in [base, min(max, 3·previous)]; `none`: exactly min(max, base·factor^n). @default 'full' */
  jitter?: Jitter;
  /** Source of randomness in [0, 1); injectable for tests. @default Math.random */
  random?: () => number;
}

/** Stateful delay generator: one per retried call, because decorrelated jitter remembers the previous delay. */
export interface Backoff {
  /** Delay before retry number `retry` (1 for the first retry). */
  next(retry: number): number;
}

/** Upper bound of the exponential curve for retry `retry` (1-based), before jitter. */
export function exponentialCeiling(
  retry: number,
  base: number,
  factor: number,
  max: number,
): number {
  return Math.min(max, base * factor ** Math.max(0, retry - 1));
}

/** Creates a backoff generator with the AWS "full" or "decorrelated" jitter formulas. */
export function createBackoff(options: BackoffOptions = {}): Backoff {
  const base = options.baseDelayMs ?? 100;
  const factor = options.factor ?? 2;
  const max = options.maxDelayMs ?? 5000;
  const jitter = options.jitter ?? 'full';
  const random = options.random ?? Math.random;
  let previous = base;
  return {
    next(retry: number): number {
      const ceiling = exponentialCeiling(retry, base, factor, max);
      if (jitter === 'none') return ceiling;
      if (jitter === 'full') return Math.floor(random() * ceiling);
      // decorrelated: sleep = min(cap, random_between(base, previous * 3))
      const upper = Math.min(max, Math.max(base, previous * 3));
      const delay = Math.floor(Math.min(max, base + random() * (upper - base)));
      // remember what the caller slept, so the next delay stays within 3 × the one it saw
      previous = Math.max(base, delay);
      return delay;
    },
  };
}
