import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { errors } from '../src/index.js';
import { retry } from '../src/retry.js';
import { RetryBudget } from '../src/retry-budget.js';
import { isTransientError } from '../src/transient.js';

function coded(code: string, statusCode?: number): Error {
  return Object.assign(new Error(code), { code, statusCode });
}

describe('retry', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('retries a transient error with backoff and returns the first success', async () => {
    const fn = vi.fn(async ({ attempt }: { attempt: number }) => {
      if (attempt < 3) throw coded('ECONNRESET');
      return 'ok';
    });
    const delays: number[] = [];
    const result = retry(fn, { jitter: 'none', onRetry: (_e, _a, delay) => delays.push(delay) });
    await vi.runAllTimersAsync();
    await expect(result).resolves.toBe('ok');
    expect(fn).toHaveBeenCalledTimes(3);
    expect(delays).toStrictEqual([100, 200]);
  });

  it('fails fast on a non-transient error', async () => {
    const fn = vi.fn(async () => {
      throw coded('42601'); // syntax error
    });
    await expect(retry(fn)).rejects.toMatchObject({ code: '42601' });
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('gives up after the attempts with the last error', async () => {
    let n = 0;
    const result = retry(
      async () => {
        n++;
        throw coded('ECONNREFUSED');
      },
      { attempts: 4 },
    );
    const assertion = expect(result).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await vi.runAllTimersAsync();
    await assertion;
    expect(n).toBe(4);
  });

  it('does not start a retry whose delay would pass the deadline', async () => {
    let n = 0;
    const result = retry(
      async () => {
        n++;
        throw coded('ETIMEDOUT');
      },
      { attempts: 10, jitter: 'none', baseDelayMs: 100, deadlineMs: 350 },
    );
    const assertion = expect(result).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    await vi.runAllTimersAsync();
    await assertion;
    // attempts at 0, 100, 300; the next delay (400) would pass 350
    expect(n).toBe(3);
  });

  it('aborts an attempt still running at the deadline with a TimeoutError', async () => {
    const result = retry(
      ({ signal }) =>
        new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      {
        deadlineMs: 1000,
      },
    );
    const assertion = expect(result).rejects.toBeInstanceOf(errors.TimeoutError);
    await vi.advanceTimersByTimeAsync(1000);
    await assertion;
  });

  it('stops at once when the caller aborts, even during a delay', async () => {
    const controller = new AbortController();
    let n = 0;
    const result = retry(
      async () => {
        n++;
        throw coded('ECONNRESET');
      },
      { signal: controller.signal, jitter: 'none', baseDelayMs: 1000 },
    );
    const assertion = expect(result).rejects.toThrow('stop');
    await vi.advanceTimersByTimeAsync(10);
    controller.abort(new Error('stop'));
    await assertion;
    expect(n).toBe(1);
  });

  it('fails with the original error when the budget denies the retry', async () => {
    const exhausted = vi.fn();
    const budget = new RetryBudget(
      { ratio: 0, minRetriesPerSecond: 0 },
      { onExhausted: exhausted },
    );
    const original = coded('ECONNRESET');
    await expect(retry(async () => Promise.reject(original), { budget })).rejects.toBe(original);
    expect(exhausted).toHaveBeenCalledTimes(1);
  });

  it('retry storm: 200 concurrent callers on a dead dependency stay within 1.2 × calls + floor', async () => {
    const budget = new RetryBudget({ ratio: 0.2, minRetriesPerSecond: 1, windowMs: 10_000 });
    let attempts = 0;
    const calls = Array.from({ length: 200 }, () =>
      retry(
        async () => {
          attempts++;
          throw coded('ECONNREFUSED');
        },
        { attempts: 3, budget },
      ).catch(() => undefined),
    );
    await vi.runAllTimersAsync();
    await Promise.all(calls);
    expect(attempts).toBeLessThanOrEqual(1.2 * 200 + budget.floor);
    expect(attempts).toBe(200 + 0.2 * 200 + 10);
  });

  it('rejects impossible settings', async () => {
    await expect(retry(async () => 1, { attempts: 0 })).rejects.toThrow(RangeError);
    await expect(retry(async () => 1, { deadlineMs: -1 })).rejects.toThrow(RangeError);
  });
});

describe('the default retryable predicate', () => {
  it('retries transient network errors and Postgres outage, serialization and deadlock classes', () => {
    for (const code of [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      'EAI_AGAIN',
      '57P01',
      '08006',
      '08001',
      '40001',
      '40P01',
    ]) {
      expect(isTransientError(coded(code)), code).toBe(true);
    }
    expect(isTransientError(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('fails fast on auth, syntax, constraint violations and 4xx', () => {
    for (const code of ['28P01', '42601', '23505', '23503', '42P01', '22P02']) {
      expect(isTransientError(coded(code)), code).toBe(false);
    }
    expect(isTransientError(coded('ECONNRESET', 404))).toBe(false);
    expect(isTransientError(new Error('boom'))).toBe(false);
    expect(isTransientError('string')).toBe(false);
  });
});
