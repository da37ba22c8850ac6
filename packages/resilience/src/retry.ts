import { linkedController, sleep } from './abort.js';
import { type BackoffOptions, createBackoff } from './backoff.js';
import { TimeoutError } from './errors.js';
import { currentDeadline, effectiveTimeout } from './request-deadline.js';
import { withRetryAfter } from './retry-after.js';
import type { RetryBudget } from './retry-budget.js';
import { isTransientError } from './transient.js';

/** What a retried function receives. */
export interface AttemptContext {
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborts when the caller's signal aborts or the overall deadline passes. */
  signal: AbortSignal;
}

/** Options of {@link retry}. */
export interface RetryOptions extends BackoffOptions {
  /** Attempts in total, the first included. @default 3 */
  attempts?: number;
  /** Overall deadline for every attempt and delay together, in ms; no retry starts that would sleep past it. @default undefined (none) */
  deadlineMs?: number;
  /** Aborts the current attempt and any pending delay. */
  signal?: AbortSignal;
  /** Decides whether an error is worth another attempt. @default isTransientError */
  retryable?: (error: unknown, attempt: number) => boolean;
  /** Caps retries at a share of calls; a denied retry fails with the original error. */
  budget?: RetryBudget;
  /** Called before each retry's delay. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

function checkOptions(options: RetryOptions): number {
  const attempts = options.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(`retry attempts must be an integer ≥ 1, got ${attempts}`);
  }
  if (options.deadlineMs !== undefined && !(options.deadlineMs > 0)) {
    throw new RangeError(`retry deadlineMs must be > 0, got ${options.deadlineMs}`);
  }
  return attempts;
}

/**
 * Runs `fn` until it succeeds, the error is not retryable, the attempts, the deadline or the
 * retry budget run out, or the signal aborts. Fails with the last error from `fn` (or with a
 * `TimeoutError` when the deadline cut an attempt short, or the signal's reason on abort).
 */
export async function retry<T>(
  fn: (context: AttemptContext) => Promise<T> | T,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = checkOptions(options);
  const retryable = options.retryable ?? isTransientError;
  const backoff = createBackoff(options);
  // Made for a request: its signal aborts the attempts too, and its deadline caps ours, so no
  // retry outlives the request.
  const request = currentDeadline();
  if (request) {
    request.signal.throwIfAborted();
    if (request.remainingMs() <= 0) throw request.timeoutError();
  }
  const { controller, dispose } = linkedController(options.signal);
  const requestSignal = request?.signal;
  const onRequestAbort = () => controller.abort(requestSignal?.reason);
  requestSignal?.addEventListener('abort', onRequestAbort, { once: true });
  const limit = effectiveTimeout(options.deadlineMs, request);
  const deadline = limit === undefined ? undefined : Date.now() + limit;
  let deadlineTimer: NodeJS.Timeout | undefined;
  // When the request's deadline is the nearer one, its signal's own timer aborts the attempts.
  if (limit !== undefined && limit === options.deadlineMs) {
    deadlineTimer = setTimeout(
      () => controller.abort(withRetryAfter(new TimeoutError(limit), 1)),
      limit,
    );
    deadlineTimer.unref?.();
  }
  options.budget?.recordCall();
  try {
    for (let attempt = 1; ; attempt++) {
      controller.signal.throwIfAborted();
      try {
        return await fn({ attempt, signal: controller.signal });
      } catch (error) {
        if (controller.signal.aborted) throw controller.signal.reason;
        if (attempt >= attempts || !retryable(error, attempt)) throw error;
        const delay = backoff.next(attempt);
        if (deadline !== undefined && Date.now() + delay >= deadline) throw error;
        if (options.budget && !options.budget.tryRetry()) throw error;
        options.onRetry?.(error, attempt, delay);
        await sleep(delay, controller.signal);
      }
    }
  } finally {
    if (deadlineTimer) clearTimeout(deadlineTimer);
    requestSignal?.removeEventListener('abort', onRequestAbort);
    dispose();
  }
}
