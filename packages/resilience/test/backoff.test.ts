import { describe, expect, it } from 'vitest';
import { createBackoff, exponentialCeiling } from '../src/backoff.js';

function sequence(values: number[]): () => number {
  let index = 0;
  return () => values[index++ % values.length]!;
}

describe('backoff', () => {
  it('grows exponentially from the base and stops at the cap without jitter', () => {
    const backoff = createBackoff({
      jitter: 'none',
      baseDelayMs: 100,
      factor: 2,
      maxDelayMs: 1000,
    });
    expect([1, 2, 3, 4, 5, 6].map((n) => backoff.next(n))).toStrictEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(exponentialCeiling(30, 100, 2, 5000)).toBe(5000);
  });

  it('keeps full jitter within [0, ceiling) for any random value', () => {
    for (const value of [0, 0.25, 0.5, 0.999999]) {
      const backoff = createBackoff({ jitter: 'full', random: () => value, maxDelayMs: 1000 });
      for (let retry = 1; retry <= 8; retry++) {
        const delay = backoff.next(retry);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(Math.max(1, exponentialCeiling(retry, 100, 2, 1000)));
      }
    }
    const lowest = createBackoff({ random: () => 0 });
    expect(lowest.next(3)).toBe(0);
    const highest = createBackoff({ random: () => 0.999999 });
    expect(highest.next(3)).toBe(399);
  });

  it('keeps decorrelated jitter within [base, min(cap, 3 × previous)]', () => {
    const backoff = createBackoff({
      jitter: 'decorrelated',
      baseDelayMs: 100,
      maxDelayMs: 2000,
      random: sequence([0.999999]),
    });
    // always the top of the range: just under 300, 3 × 299, the cap, the cap
    expect([1, 2, 3, 4].map((n) => backoff.next(n))).toStrictEqual([299, 896, 1999, 1999]);
    const low = createBackoff({ jitter: 'decorrelated', baseDelayMs: 100, random: () => 0 });
    expect([1, 2, 3].map((n) => low.next(n))).toStrictEqual([100, 100, 100]);
    const random = createBackoff({ jitter: 'decorrelated', baseDelayMs: 50, maxDelayMs: 800 });
    let previous = 50;
    for (let retry = 1; retry <= 5000; retry++) {
      const delay = random.next(retry);
      expect(delay).toBeGreaterThanOrEqual(50);
      expect(delay).toBeLessThanOrEqual(Math.min(800, previous * 3));
      previous = Math.max(delay, 50);
    }
  });
});
