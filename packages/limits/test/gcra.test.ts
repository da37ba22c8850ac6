import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gcra, gcraPolicy } from '../src/gcra.js';
import { MemoryStore } from '../src/memory-store.js';

const MS = 1000;

/** Runs a sequence of request times (µs) through one key; returns the allowed times. */
function allowedTimes(times: number[], max: number, windowMs: number): number[] {
  const policy = gcraPolicy(max, windowMs);
  let tat: number | undefined;
  const allowed: number[] = [];
  for (const now of times) {
    const result = gcra(tat, now, policy);
    tat = result.tatUs;
    if (result.allowed) allowed.push(now);
  }
  return allowed;
}

describe('GCRA', () => {
  it('allows a burst of max, then limits with Retry-After until one interval has passed', () => {
    const policy = gcraPolicy(5, 1000);
    let tat: number | undefined;
    const t0 = 1_000_000_000;
    for (let i = 0; i < 5; i += 1) {
      const result = gcra(tat, t0, policy);
      expect(result).toMatchObject({ allowed: true, remaining: 4 - i, retryAfterUs: 0 });
      tat = result.tatUs;
    }
    const limited = gcra(tat, t0, policy);
    expect(limited).toMatchObject({ allowed: false, remaining: 0, retryAfterUs: 200 * MS });
    expect(limited.resetUs).toBe(1000 * MS);
    expect(limited.tatUs).toBe(tat);
    expect(gcra(tat, t0 + 200 * MS, policy).allowed).toBe(true);
  });

  it('does not let a client pass 2× the limit across a window boundary', () => {
    // A fixed window of 100/min lets 100 through at 59.9 s and 100 more at 60.1 s.
    const max = 100;
    const windowMs = 60_000;
    const before = Array.from({ length: max }, () => 59_900 * MS);
    const after = Array.from({ length: max }, () => 60_100 * MS);
    const allowed = allowedTimes([...before, ...after], max, windowMs);
    // The burst of 100 passes; 200 ms later only 200 ms worth of refill does (0.33 request).
    expect(allowed.length).toBe(max);
  });

  it('never allows more than max + t·max/window in any interval of length t', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 200 }),
        (max, windowMs, gapsMs) => {
          let now = 1_700_000_000_000 * MS;
          const times = gapsMs.map((gap) => {
            now += gap * 10; // gaps of 0..200 ms, in µs
            return now;
          });
          const allowed = allowedTimes(times, max, windowMs);
          const intervalUs = gcraPolicy(max, windowMs).intervalUs;
          for (let i = 0; i < allowed.length; i += 1) {
            for (let j = i; j < allowed.length; j += 1) {
              const span = allowed[j]! - allowed[i]!;
              expect(j - i + 1).toBeLessThanOrEqual(max + Math.floor(span / intervalUs));
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps the average rate at or under max per window', () => {
    // One request per ms for 10 windows of 1 s, limit 50/s: at most 50·10 + the 50 burst.
    const times = Array.from({ length: 10_000 }, (_, i) => (1_000_000 + i) * MS);
    const allowed = allowedTimes(times, 50, 1000);
    expect(allowed.length).toBeLessThanOrEqual(550);
    expect(allowed.length).toBeGreaterThanOrEqual(540);
  });

  it('rejects a policy with a non-integer or non-positive max or window', () => {
    expect(() => gcraPolicy(0, 1000)).toThrow(RangeError);
    expect(() => gcraPolicy(1.5, 1000)).toThrow(RangeError);
    expect(() => gcraPolicy(1, 0)).toThrow(RangeError);
  });

  it('rounds the interval up so a policy never grants more than max per window', () => {
    const policy = gcraPolicy(7, 60_000);
    expect(policy.intervalUs).toBe(8_571_429);
    expect(policy.capacityUs).toBeGreaterThanOrEqual(60_000 * MS);
  });
});

describe('MemoryStore', () => {
  it('keeps state per key and reports its source', () => {
    const store = new MemoryStore();
    const policy = gcraPolicy(1, 1000);
    expect(store.decide('a', policy, 1_000_000)).toMatchObject({ allowed: true, source: 'local' });
    expect(store.decide('a', policy, 1_000_000).allowed).toBe(false);
    expect(store.decide('b', policy, 1_000_000).allowed).toBe(true);
  });

  it('stays within maxKeys, dropping the least recently used key', () => {
    const store = new MemoryStore({ maxKeys: 10 });
    const policy = gcraPolicy(1, 60_000);
    for (let i = 0; i < 100; i += 1) store.decide(`k${i}`, policy, 1_000_000);
    expect(store.size).toBeLessThanOrEqual(10);
    expect(store.decide('k99', policy, 1_000_000).allowed).toBe(false);
  });
});

describe('gcraAll', () => {
  it('charges every tier when all admit, and none when one rejects (the longest wait names the tier)', () => {
    const loose = gcraPolicy(10, 10_000); // 1 per second
    const tight = gcraPolicy(1, 60_000); // 1 per minute
    const store = new MemoryStore();
    const tiers = [
      { key: 'global', policy: loose },
      { key: 'user', policy: tight },
    ];
    const first = store.decideAll(tiers, 1_000_000);
    expect(first).toMatchObject({ allowed: true, rejectedBy: -1 });
    expect(first.decisions.map((d) => d.remaining)).toStrictEqual([9, 0]);
    const second = store.decideAll(tiers, 1_000_000);
    expect(second.allowed).toBe(false);
    expect(second.rejectedBy).toBe(1);
    // The loose tier was not charged: it reports 9 left, as after the first request.
    expect(second.decisions).toStrictEqual([
      { allowed: true, remaining: 9, resetUs: 1_000_000, retryAfterUs: 0 },
      { allowed: false, remaining: 0, resetUs: 60_000_000, retryAfterUs: 60_000_000 },
    ]);
    expect(store.decideAll([tiers[0]!], 1_000_000).decisions[0]!.remaining).toBe(8);
  });
});
