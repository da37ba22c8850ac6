import { linkedController } from './abort.js';
import { TimeoutError } from './errors.js';
import { withRetryAfter } from './retry-after.js';

/** Options of {@link timeout}. */
export interface TimeoutOptions {
  /** Deadline for the call in milliseconds. */
  ms: number;
  /** A caller's signal; its abort also aborts the call. */
  signal?: AbortSignal;
}

/**
 * Runs `fn` with a signal that aborts after `ms`, and rejects with `TimeoutError`
 * (BULWARK_RESILIENCE_TIMEOUT, 503) at the deadline even if `fn` ignores the signal.
 */
export function timeout<T>(
  fn: (signal: AbortSignal) => Promise<T> | T,
  options: TimeoutOptions,
): Promise<T> {
  const { ms } = options;
  if (!(ms > 0) || !Number.isFinite(ms)) {
    return Promise.reject(new RangeError(`timeout ms must be a finite number > 0, got ${ms}`));
  }
  return guarded(fn, ms, options.signal);
}

/**
 * Runs `fn` with a signal that follows `signal` and, with `ms`, aborts after `ms`; rejects with
 * the signal's reason as soon as it aborts, even if `fn` ignores it.
 */
export function guarded<T>(
  fn: (signal: AbortSignal) => Promise<T> | T,
  ms: number | undefined,
  signal: AbortSignal | undefined,
): Promise<T> {
  const { controller, dispose } = linkedController(signal);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(controller.signal.reason);
    const timer =
      ms === undefined
        ? undefined
        : setTimeout(() => {
            controller.abort(withRetryAfter(new TimeoutError(ms), 1));
          }, ms);
    timer?.unref?.();
    if (controller.signal.aborted) onAbort();
    else controller.signal.addEventListener('abort', onAbort, { once: true });
    const settle = () => {
      clearTimeout(timer);
      controller.signal.removeEventListener('abort', onAbort);
      dispose();
    };
    Promise.resolve()
      .then(() => fn(controller.signal))
      .then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
  });
}
