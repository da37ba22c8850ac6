import { describe, expect, it } from 'vitest';
import { RetryBudget } from '../src/retry-budget.js';

describe('retry budget', () => {
  it('allows retries up to ratio × calls + the floor, then denies', () => {
    let now = 0;
    const budget = new RetryBudget({
      ratio: 0.2,
      minRetriesPerSecond: 1,
      windowMs: 10_000,
      now: () => now,
    });
    expect(budget.floor).toBe(10);
    for (let i = 0; i < 100; i++) budget.recordCall();
    // 0.2 × 100 + 10 = 30 retries
    let granted = 0;
    while (budget.tryRetry()) granted++;
    expect(granted).toBe(30);
    expect(budget.available).toBe(0);
    now = 500;
    budget.recordCall();
    budget.recordCall();
    budget.recordCall();
    budget.recordCall();
    budget.recordCall();
    expect(budget.tryRetry()).toBe(true); // 105 × 0.2 + 10 = 31
    expect(budget.tryRetry()).toBe(false);
  });

  it('forgets calls and retries older than the window', () => {
    let now = 0;
    const budget = new RetryBudget({
      ratio: 0.5,
      minRetriesPerSecond: 0,
      windowMs: 3000,
      now: () => now,
    });
    for (let i = 0; i < 10; i++) budget.recordCall();
    for (let i = 0; i < 5; i++) expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    now = 2999;
    expect(budget.calls).toBe(10);
    now = 3000;
    expect(budget.calls).toBe(0);
    expect(budget.retries).toBe(0);
    expect(budget.tryRetry()).toBe(false);
    now = 1_000_000;
    budget.recordCall();
    budget.recordCall();
    expect(budget.calls).toBe(2);
    expect(budget.tryRetry()).toBe(true);
  });

  it('reports granted and denied retries to its observer', () => {
    const seen: string[] = [];
    const budget = new RetryBudget(
      { ratio: 0, minRetriesPerSecond: 0.1, windowMs: 10_000 },
      {
        onRetry: () => seen.push('retry'),
        onExhausted: () => seen.push('exhausted'),
      },
    );
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    expect(seen).toStrictEqual(['retry', 'exhausted']);
  });

  it('rejects impossible settings', () => {
    expect(() => new RetryBudget({ ratio: 2 })).toThrow(RangeError);
    expect(() => new RetryBudget({ minRetriesPerSecond: -1 })).toThrow(RangeError);
    expect(() => new RetryBudget({ windowMs: 10 })).toThrow(RangeError);
  });
});
