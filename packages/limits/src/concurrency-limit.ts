/** Options of {@link AdaptiveConcurrencyLimit}. */
export interface AdaptiveConcurrencyLimitOptions {
  initialLimit: number;
  minLimit: number;
  maxLimit: number;
  /** Latency may grow to `tolerance × baseline` before the limit falls. */
  tolerance: number;
  /** Latency below this (ms) never counts as overload, however small the baseline. @default 0 */
  latencyFloorMs?: number;
  /** Length of one measurement window, in ms. @default 100 */
  windowMs?: number;
  /** Samples needed before a window counts. @default 5 */
  minSamples?: number;
  /** Per window, the baseline drifts up by this ratio so it can follow a slower steady state. @default 0.01 */
  baselineDrift?: number;
}

/**
 * A latency-driven concurrency limit in the spirit of Netflix concurrency-limits' Gradient2 and
 * Vegas. Pure logic: time is passed in, nothing is scheduled.
 *
 * Each window of samples yields the average latency and the average service time (latency minus
 * the wait in line). Two baselines bound what latency may be: the lowest window average seen
 * (drifting up slowly, so a permanent change of the workload is eventually accepted), which
 * catches a slower downstream as concurrency grows (Gradient2's long-term RTT), and the service
 * time of the same window, which catches requests queueing behind each other in the process even
 * when the server started out overloaded and never saw an unloaded baseline (Vegas's no-load
 * RTT, measured per request, so a mix of fast and slow routes does not skew it). While the
 * average stays within `tolerance × baseline` and the limit is actually used, the limit grows
 * by √limit per window (the queue allowance of Gradient2), but never past `limit × ceiling /
 * average`, so a limit of a few slow requests settles instead of swinging by half; when latency
 * rises past it, the limit is multiplied by `ceiling / average` (at least 0.5), the gradient of
 * Gradient2. The result converges on the concurrency where requests stop queueing behind each
 * other.
 */
export class AdaptiveConcurrencyLimit {
  readonly #min: number;
  readonly #max: number;
  readonly #tolerance: number;
  readonly #floor: number;
  readonly #windowMs: number;
  readonly #minSamples: number;
  readonly #drift: number;
  #limit: number;
  #baseline = Number.POSITIVE_INFINITY;
  #windowStart = Number.NaN;
  #sum = 0;
  #serviceSum = 0;
  #count = 0;
  #peakInFlight = 0;

  constructor(options: AdaptiveConcurrencyLimitOptions) {
    this.#min = options.minLimit;
    this.#max = options.maxLimit;
    this.#tolerance = options.tolerance;
    this.#floor = options.latencyFloorMs ?? 0;
    this.#windowMs = options.windowMs ?? 100;
    this.#minSamples = options.minSamples ?? 5;
    this.#drift = options.baselineDrift ?? 0.01;
    this.#limit = Math.min(this.#max, Math.max(this.#min, options.initialLimit));
  }

  /** The current limit (whole requests). */
  get limit(): number {
    return Math.floor(this.#limit);
  }

  /** The latency baseline, in ms (Infinity before the first window). */
  get baseline(): number {
    return this.#baseline;
  }

  /**
   * Records one completed request: its latency in ms (including any wait in line), the in-flight
   * count it saw, the time, and its service time in ms (without the wait; defaults to latency).
   * Returns true when this sample closed a window and the limit was recomputed.
   */
  addSample(latencyMs: number, inFlight: number, nowMs: number, serviceMs = latencyMs): boolean {
    if (Number.isNaN(this.#windowStart)) this.#windowStart = nowMs;
    this.#sum += latencyMs;
    this.#serviceSum += serviceMs;
    this.#count += 1;
    if (inFlight > this.#peakInFlight) this.#peakInFlight = inFlight;
    if (this.#count < this.#minSamples || nowMs - this.#windowStart < this.#windowMs) return false;

    const average = this.#sum / this.#count;
    const service = this.#serviceSum / this.#count;
    const peak = this.#peakInFlight;
    this.#sum = 0;
    this.#serviceSum = 0;
    this.#count = 0;
    this.#peakInFlight = 0;
    this.#windowStart = nowMs;

    this.#baseline = Math.min(average, this.#baseline * (1 + this.#drift));
    // Microsecond handlers double their latency without anyone queueing for long; the floor keeps
    // such noise from counting as overload.
    const ceiling = Math.max(this.#floor, this.#tolerance * Math.min(this.#baseline, service));
    if (average <= ceiling) {
      // Grow only when the limit is what held concurrency back; an idle server proves nothing.
      // By √limit (Gradient2's queue allowance), but no further than the latency headroom
      // suggests (limit × ceiling / average): with a few slow requests per batch, √limit alone
      // would overshoot by half and the limit would swing.
      if (peak >= this.#limit * 0.75) {
        const step = Math.max(1, Math.sqrt(this.#limit));
        const headroom = average > 0 ? this.#limit * (ceiling / average) : Number.POSITIVE_INFINITY;
        this.#limit = Math.min(this.#max, this.#limit + step, Math.max(this.#limit, headroom));
      }
    } else {
      const gradient = Math.max(0.5, ceiling / average);
      this.#limit = Math.max(this.#min, this.#limit * gradient);
    }
    return true;
  }
}
