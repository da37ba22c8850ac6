/** Retry budget settings. */
export interface RetryBudgetOptions {
  /** Retries may add at most this share of calls, in [0, 1]. @default 0.2 */
  ratio?: number;
  /** Retries always allowed per second of window, whatever the traffic (the floor). @default 10 */
  minRetriesPerSecond?: number;
  /** Length of the rolling window in milliseconds (1 s buckets). @default 10000 */
  windowMs?: number;
  /** Clock; injectable for tests. @default Date.now */
  now?: () => number;
}

/** Hooks the plugin attaches to a budget so every retry shows in metrics. */
export interface RetryBudgetObserver {
  onRetry?(): void;
  onExhausted?(): void;
}

const bucketMs = 1000;

/**
 * Caps retries at a share of calls over a rolling window, plus a small floor, so that retries
 * cannot multiply the load on a failing dependency (Finagle's and Envoy's retry budgets).
 * A retry is allowed while `retries < ratio · calls + minRetriesPerSecond · windowSeconds`.
 */
export class RetryBudget {
  readonly ratio: number;
  readonly minRetriesPerSecond: number;
  readonly windowMs: number;
  observer: RetryBudgetObserver | undefined;
  readonly #now: () => number;
  readonly #calls: number[];
  readonly #retries: number[];
  #bucketStart: number;
  #index = 0;

  constructor(options: RetryBudgetOptions = {}, observer?: RetryBudgetObserver) {
    this.ratio = options.ratio ?? 0.2;
    this.minRetriesPerSecond = options.minRetriesPerSecond ?? 10;
    this.windowMs = options.windowMs ?? 10_000;
    if (!(this.ratio >= 0 && this.ratio <= 1)) {
      throw new RangeError(`retry budget ratio must be within [0, 1], got ${this.ratio}`);
    }
    if (!(this.minRetriesPerSecond >= 0)) {
      throw new RangeError(`minRetriesPerSecond must be ≥ 0, got ${this.minRetriesPerSecond}`);
    }
    if (!(this.windowMs >= bucketMs)) {
      throw new RangeError(`retry budget windowMs must be ≥ ${bucketMs}, got ${this.windowMs}`);
    }
    this.#now = options.now ?? Date.now;
    const buckets = Math.ceil(this.windowMs / bucketMs);
    this.#calls = new Array<number>(buckets).fill(0);
    this.#retries = new Array<number>(buckets).fill(0);
    this.#bucketStart = Math.floor(this.#now() / bucketMs) * bucketMs;
    this.observer = observer;
  }

  /** The floor: retries allowed over one window even with no calls. */
  get floor(): number {
    return (this.minRetriesPerSecond * (this.#calls.length * bucketMs)) / 1000;
  }

  #rotate(): void {
    const now = this.#now();
    const elapsed = Math.floor((now - this.#bucketStart) / bucketMs);
    if (elapsed <= 0) return;
    const size = this.#calls.length;
    for (let step = 0; step < Math.min(elapsed, size); step++) {
      this.#index = (this.#index + 1) % size;
      this.#calls[this.#index] = 0;
      this.#retries[this.#index] = 0;
    }
    this.#bucketStart += elapsed * bucketMs;
  }

  /** Calls (first attempts) in the window. */
  get calls(): number {
    this.#rotate();
    return this.#calls.reduce((sum, value) => sum + value, 0);
  }

  /** Retries spent in the window. */
  get retries(): number {
    this.#rotate();
    return this.#retries.reduce((sum, value) => sum + value, 0);
  }

  /** Retries still allowed right now. */
  get available(): number {
    return Math.max(0, Math.floor(this.calls * this.ratio + this.floor - this.retries));
  }

  /** Records a first attempt; each one deposits `ratio` of a retry. */
  recordCall(): void {
    this.#rotate();
    this.#calls[this.#index]! += 1;
  }

  /** Withdraws one retry if the budget allows it; false means "fail with the original error". */
  tryRetry(): boolean {
    this.#rotate();
    const calls = this.#calls.reduce((sum, value) => sum + value, 0);
    const retries = this.#retries.reduce((sum, value) => sum + value, 0);
    if (retries + 1 > calls * this.ratio + this.floor) {
      this.observer?.onExhausted?.();
      return false;
    }
    this.#retries[this.#index]! += 1;
    this.observer?.onRetry?.();
    return true;
  }
}
