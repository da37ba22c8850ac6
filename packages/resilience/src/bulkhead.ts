import { BulkheadFullError } from './errors.js';
import { withRetryAfter } from './retry-after.js';

/** Options of {@link Bulkhead}. */
export interface BulkheadOptions {
  /** Calls allowed to run at once. @default 10 */
  maxConcurrent?: number;
  /** Calls allowed to wait for a slot; one more is rejected at once. @default 0 */
  maxQueue?: number;
  /** A queued call that waits longer than this is rejected; 0 waits as long as it takes. @default 0 */
  queueTimeoutMs?: number;
}

/** Hooks the plugin attaches so a bulkhead shows in metrics. */
export interface BulkheadObserver {
  onChange?(inUse: number, queued: number): void;
  onReject?(): void;
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

function positiveInteger(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`bulkhead ${name} must be an integer ≥ ${min}, got ${value}`);
  }
  return value;
}

/**
 * Limits concurrent calls to a dependency, with a bounded wait queue. When both are full the
 * call is rejected immediately with `BulkheadFullError` (503, `Retry-After: 1`), so a slow
 * dependency cannot hold every request of the service.
 */
export class Bulkhead {
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  readonly queueTimeoutMs: number;
  observer: BulkheadObserver | undefined;
  #inUse = 0;
  readonly #queue: Waiter[] = [];

  constructor(options: BulkheadOptions = {}, observer?: BulkheadObserver) {
    this.maxConcurrent = positiveInteger('maxConcurrent', options.maxConcurrent ?? 10, 1);
    this.maxQueue = positiveInteger('maxQueue', options.maxQueue ?? 0, 0);
    this.queueTimeoutMs = positiveInteger('queueTimeoutMs', options.queueTimeoutMs ?? 0, 0);
    this.observer = observer;
  }

  /** Calls running now. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Calls waiting for a slot. */
  get queued(): number {
    return this.#queue.length;
  }

  #changed(): void {
    this.observer?.onChange?.(this.#inUse, this.#queue.length);
  }

  #rejectFull(): never {
    this.observer?.onReject?.();
    throw withRetryAfter(new BulkheadFullError(), 1);
  }

  async #acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#inUse < this.maxConcurrent) {
      this.#inUse++;
      this.#changed();
      return;
    }
    if (this.#queue.length >= this.maxQueue) this.#rejectFull();
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const leave = () => {
        const index = this.#queue.indexOf(waiter);
        if (index !== -1) this.#queue.splice(index, 1);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#changed();
      };
      const onAbort = () => {
        leave();
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        resolve: () => {
          leave();
          resolve();
        },
        reject,
      };
      if (this.queueTimeoutMs > 0) {
        timer = setTimeout(() => {
          leave();
          this.observer?.onReject?.();
          reject(withRetryAfter(new BulkheadFullError(), 1));
        }, this.queueTimeoutMs);
        timer.unref?.();
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
      this.#changed();
    });
  }

  #release(): void {
    const next = this.#queue[0];
    if (next) {
      // The slot passes straight to the next waiter; inUse stays the same.
      next.resolve();
      return;
    }
    this.#inUse--;
    this.#changed();
  }

  /** Runs `fn` in a slot, waiting in the queue if there is room, or rejects at once. */
  async run<T>(fn: () => Promise<T> | T, signal?: AbortSignal): Promise<T> {
    await this.#acquire(signal);
    try {
      return await fn();
    } finally {
      this.#release();
    }
  }
}
