import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitForOptions {
  /** Give up after this long. @default 10000 (ms) */
  timeoutMs?: number;
  /** Poll this often. @default 25 (ms) */
  intervalMs?: number;
  /** Named in the error when the condition never holds. */
  what?: string;
}

/**
 * Polls `probe` until it returns a value other than `undefined`/`false` or stops throwing,
 * and resolves with that value. The last error or result is in the timeout message.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<Exclude<T, false | undefined>> {
  const { timeoutMs = 10_000, intervalMs = 25, what = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as Exclude<T, false | undefined>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`waitFor: ${what} did not hold within ${timeoutMs} ms (last: ${detail})`);
    }
    await sleep(intervalMs);
  }
}
