/** Totals of a breaker's window. */
export interface WindowSnapshot {
  /** Calls recorded (successes and failures; rejected calls are not calls). */
  calls: number;
  failures: number;
  /** Calls that took at least `slowCallDurationMs`, failed or not. */
  slow: number;
}

/** Where a breaker keeps its recent outcomes: the last N calls, or the last N milliseconds. */
export interface CallWindow {
  record(failed: boolean, slow: boolean): void;
  snapshot(): WindowSnapshot;
  reset(): void;
}

/** The last `size` calls, whatever their age (a ring buffer). */
export class CountWindow implements CallWindow {
  readonly size: number;
  readonly #outcomes: Uint8Array;
  #next = 0;
  #filled = 0;
  #failures = 0;
  #slow = 0;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`count window size must be an integer ≥ 1, got ${size}`);
    }
    this.size = size;
    // bit 0: failed, bit 1: slow
    this.#outcomes = new Uint8Array(size);
  }

  record(failed: boolean, slow: boolean): void {
    if (this.#filled === this.size) {
      const old = this.#outcomes[this.#next]!;
      this.#failures -= old & 1;
      this.#slow -= (old >> 1) & 1;
    } else {
      this.#filled++;
    }
    this.#outcomes[this.#next] = (failed ? 1 : 0) | (slow ? 2 : 0);
    this.#failures += failed ? 1 : 0;
    this.#slow += slow ? 1 : 0;
    this.#next = (this.#next + 1) % this.size;
  }

  snapshot(): WindowSnapshot {
    return { calls: this.#filled, failures: this.#failures, slow: this.#slow };
  }

  reset(): void {
    this.#outcomes.fill(0);
    this.#next = 0;
    this.#filled = 0;
    this.#failures = 0;
    this.#slow = 0;
  }
}

/** The calls of the last `sizeMs` milliseconds, in `buckets` slices that expire one by one. */
export class TimeWindow implements CallWindow {
  readonly sizeMs: number;
  readonly bucketMs: number;
  readonly #now: () => number;
  readonly #calls: Uint32Array;
  readonly #failures: Uint32Array;
  readonly #slow: Uint32Array;
  #index = 0;
  #bucketStart: number;

  constructor(sizeMs: number, buckets = 10, now: () => number = Date.now) {
    if (!Number.isInteger(buckets) || buckets < 1) {
      throw new RangeError(`time window buckets must be an integer ≥ 1, got ${buckets}`);
    }
    if (!(sizeMs >= buckets)) {
      throw new RangeError(`time window must be ≥ 1 ms per bucket, got ${sizeMs} ms`);
    }
    this.sizeMs = sizeMs;
    this.bucketMs = sizeMs / buckets;
    this.#now = now;
    this.#calls = new Uint32Array(buckets);
    this.#failures = new Uint32Array(buckets);
    this.#slow = new Uint32Array(buckets);
    this.#bucketStart = now();
  }

  #rotate(): void {
    const elapsed = Math.floor((this.#now() - this.#bucketStart) / this.bucketMs);
    if (elapsed <= 0) return;
    const size = this.#calls.length;
    for (let step = 0; step < Math.min(elapsed, size); step++) {
      this.#index = (this.#index + 1) % size;
      this.#calls[this.#index] = 0;
      this.#failures[this.#index] = 0;
      this.#slow[this.#index] = 0;
    }
    this.#bucketStart += elapsed * this.bucketMs;
  }

  record(failed: boolean, slow: boolean): void {
    this.#rotate();
    this.#calls[this.#index]! += 1;
    if (failed) this.#failures[this.#index]! += 1;
    if (slow) this.#slow[this.#index]! += 1;
  }

  snapshot(): WindowSnapshot {
    this.#rotate();
    let calls = 0;
    let failures = 0;
    let slow = 0;
    for (let i = 0; i < this.#calls.length; i++) {
      calls += this.#calls[i]!;
      failures += this.#failures[i]!;
      slow += this.#slow[i]!;
    }
    return { calls, failures, slow };
  }

  reset(): void {
    this.#calls.fill(0);
    this.#failures.fill(0);
    this.#slow.fill(0);
    this.#bucketStart = this.#now();
  }
}

/** Thresholds a breaker trips on. Rates are percentages in (0, 100]. */
export interface TripThresholds {
  minimumCalls: number;
  failureRateThreshold: number;
  slowCallRateThreshold: number;
}

/** Why a window trips its breaker, or undefined while it stays closed. */
export function tripReason(
  snapshot: WindowSnapshot,
  thresholds: TripThresholds,
): 'failure-rate' | 'slow-call-rate' | undefined {
  if (snapshot.calls === 0 || snapshot.calls < thresholds.minimumCalls) return undefined;
  if ((snapshot.failures / snapshot.calls) * 100 >= thresholds.failureRateThreshold) {
    return 'failure-rate';
  }
  if ((snapshot.slow / snapshot.calls) * 100 >= thresholds.slowCallRateThreshold) {
    return 'slow-call-rate';
  }
  return undefined;
}
