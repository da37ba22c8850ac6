import { EventEmitter } from 'node:events';
import OpossumBreaker from 'opossum';
import { linkedController } from './abort.js';
import {
  type CallWindow,
  CountWindow,
  TimeWindow,
  tripReason,
  type WindowSnapshot,
} from './breaker-window.js';
import { BreakerOpenError, TimeoutError } from './errors.js';
import { currentDeadline } from './request-deadline.js';
import { withRetryAfter } from './retry-after.js';
import { guarded } from './timeout.js';

/** A breaker's state; the gauge `circuit_breaker_state{state}` is 1 for the current one. */
export type BreakerState = 'closed' | 'half-open' | 'open';

/**
 * How a call through a breaker ended, as counted in `circuit_breaker_calls_total{outcome}`.
 * `ignored`: it failed with an error `isFailure` does not blame on the dependency (not recorded).
 */
export type CallOutcome = 'success' | 'failure' | 'timeout' | 'slow' | 'rejected' | 'ignored';

/** Options of one circuit breaker. Durations are in milliseconds, rates in percent. */
export interface BreakerOptions {
  /** `time`: the calls of the last `windowMs`; `count`: the last `windowSize` calls. @default 'time' */
  windowType?: 'time' | 'count';
  /** Length of a time window. @default 10000 */
  windowMs?: number;
  /** Slices of a time window; older slices expire one by one. @default 10 */
  windowBuckets?: number;
  /** Calls kept by a count window. @default 20 */
  windowSize?: number;
  /** The window must hold at least this many calls before the breaker may trip. @default 10 */
  minimumCalls?: number;
  /** Trip when at least this percentage of the window's calls failed. @default 50 */
  failureRateThreshold?: number;
  /** A call that takes at least this long is slow (failed or not). @default 5000 */
  slowCallDurationMs?: number;
  /** Trip when at least this percentage of the window's calls were slow. @default 80 */
  slowCallRateThreshold?: number;
  /** Time open before half-open lets trial calls through. @default 30000 */
  resetTimeoutMs?: number;
  /** Trial calls in half-open: all must succeed (and not be slow) to close; one failure reopens. @default 3 */
  halfOpenTrials?: number;
  /** Per-call deadline; the call's signal aborts and it fails with `TimeoutError`. 0 disables. @default 10000 */
  timeoutMs?: number;
  /**
   * Trip when this many calls in a row ended in a timeout, with no success between them, however
   * many successes the window still holds: a partition answers nothing, and the rate over a
   * window full of the healthy seconds before it would take most of the window to reach the
   * threshold. 0 disables. @default 5
   */
  consecutiveTimeouts?: number;
  /** Whether an error counts against the dependency. @default every error except 4xx ones */
  isFailure?: (error: unknown) => boolean;
  /** When open, the breaker's health check fails (unhealthy) instead of reporting degraded. @default false */
  critical?: boolean;
}

export type ResolvedBreakerOptions = Required<BreakerOptions>;

/** Events a {@link Breaker} emits. */
export interface BreakerEvents {
  state: [state: BreakerState, previous: BreakerState];
  call: [outcome: CallOutcome, durationMs: number];
}

function defaultIsFailure(error: unknown): boolean {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return !(typeof status === 'number' && status >= 400 && status < 500);
}

function check(name: string, value: number, min: number, integer = false, max = Infinity): void {
  if (
    typeof value !== 'number' ||
    Number.isNaN(value) ||
    value < min ||
    value > max ||
    (integer && !Number.isInteger(value))
  ) {
    const range = max === Infinity ? `≥ ${min}` : `within [${min}, ${max}]`;
    throw new RangeError(
      `breaker ${name} must be ${integer ? 'an integer' : 'a number'} ${range}, got ${value}`,
    );
  }
}

/** Applies defaults and checks every option; throws RangeError naming the option. */
export function resolveBreakerOptions(options: BreakerOptions = {}): ResolvedBreakerOptions {
  const resolved: ResolvedBreakerOptions = {
    windowType: options.windowType ?? 'time',
    windowMs: options.windowMs ?? 10_000,
    windowBuckets: options.windowBuckets ?? 10,
    windowSize: options.windowSize ?? 20,
    minimumCalls: options.minimumCalls ?? 10,
    failureRateThreshold: options.failureRateThreshold ?? 50,
    slowCallDurationMs: options.slowCallDurationMs ?? 5000,
    slowCallRateThreshold: options.slowCallRateThreshold ?? 80,
    resetTimeoutMs: options.resetTimeoutMs ?? 30_000,
    halfOpenTrials: options.halfOpenTrials ?? 3,
    timeoutMs: options.timeoutMs ?? 10_000,
    consecutiveTimeouts: options.consecutiveTimeouts ?? 5,
    isFailure: options.isFailure ?? defaultIsFailure,
    critical: options.critical ?? false,
  };
  if (resolved.windowType !== 'time' && resolved.windowType !== 'count') {
    throw new RangeError(
      `breaker windowType must be 'time' or 'count', got ${String(resolved.windowType)}`,
    );
  }
  check('windowMs', resolved.windowMs, 1);
  check('windowBuckets', resolved.windowBuckets, 1, true);
  check('windowSize', resolved.windowSize, 1, true);
  check('minimumCalls', resolved.minimumCalls, 1, true);
  check('failureRateThreshold', resolved.failureRateThreshold, 1, false, 100);
  check('slowCallDurationMs', resolved.slowCallDurationMs, 1);
  check('slowCallRateThreshold', resolved.slowCallRateThreshold, 1, false, 100);
  check('resetTimeoutMs', resolved.resetTimeoutMs, 1);
  check('halfOpenTrials', resolved.halfOpenTrials, 1, true);
  check('timeoutMs', resolved.timeoutMs, 0);
  check('consecutiveTimeouts', resolved.consecutiveTimeouts, 0, true);
  if (typeof resolved.isFailure !== 'function') {
    throw new TypeError(`breaker isFailure must be a function, got ${typeof resolved.isFailure}`);
  }
  return resolved;
}

type Task = (signal: AbortSignal) => Promise<unknown>;

/**
 * A circuit breaker on opossum. Opossum runs the calls, keeps the open → half-open timer and
 * rejects while open; this class makes the trip decision itself (failure rate and slow-call
 * rate over a count or time window, with a minimum volume), and lets `halfOpenTrials` trial
 * calls decide in half-open, because opossum has no count window, no slow-call rate and a
 * single trial call.
 */
export class Breaker extends EventEmitter<BreakerEvents> {
  readonly name: string;
  readonly options: ResolvedBreakerOptions;
  /** The underlying opossum breaker, for its events and `stats`. Do not open/close it directly. */
  readonly opossum: OpossumBreaker<[Task, AbortSignal | undefined, number | undefined], unknown>;
  readonly #window: CallWindow;
  #state: BreakerState = 'closed';
  #openedAt = 0;
  #trialsStarted = 0;
  #trialsSucceeded = 0;
  #lastTrip: string | undefined;
  #timeoutsInARow = 0;

  constructor(name: string, options: BreakerOptions = {}) {
    super();
    this.name = name;
    this.options = resolveBreakerOptions(options);
    const o = this.options;
    this.#window =
      o.windowType === 'count'
        ? new CountWindow(o.windowSize)
        : new TimeWindow(o.windowMs, o.windowBuckets);
    this.opossum = new OpossumBreaker(
      // `ms`: timeoutMs, unless the request's deadline (whose signal aborts by itself) is nearer.
      (task: Task, signal: AbortSignal | undefined, ms: number | undefined) =>
        ms !== undefined || signal ? guarded(task, ms, signal) : task(new AbortController().signal),
      {
        name,
        timeout: false,
        resetTimeout: o.resetTimeoutMs,
        // The trip decision is ours: opossum never opens on its own from closed.
        errorThresholdPercentage: 100,
        volumeThreshold: Number.MAX_SAFE_INTEGER,
        rollingCountTimeout: o.windowType === 'time' ? o.windowMs : 10_000,
        rollingCountBuckets: o.windowType === 'time' ? o.windowBuckets : 10,
        rollingPercentilesEnabled: false,
        enableSnapshots: false,
        errorFilter: (error: unknown) => !o.isFailure(error),
      },
    );
    this.opossum.on('open', () => {
      this.#openedAt = Date.now();
      this.#setState('open');
    });
    this.opossum.on('halfOpen', () => {
      this.#trialsStarted = 0;
      this.#trialsSucceeded = 0;
      this.#setState('half-open');
    });
    this.opossum.on('close', () => {
      // Opossum closes on the first good trial; we stay half-open until every trial passed.
      if (this.#state === 'open') this.#setState('closed');
    });
  }

  /** closed, half-open or open. */
  get state(): BreakerState {
    return this.#state;
  }

  /** Why the breaker last tripped: `failure-rate`, `slow-call-rate`, `consecutive-timeouts`, `half-open-trial` or `manual`. */
  get lastTripReason(): string | undefined {
    return this.#lastTrip;
  }

  /** Milliseconds until an open breaker turns half-open (0 when not open). */
  get msUntilHalfOpen(): number {
    if (this.#state !== 'open') return 0;
    return Math.max(0, this.#openedAt + this.options.resetTimeoutMs - Date.now());
  }

  /** Calls, failures and slow calls in the current window, with rates in percent. */
  snapshot(): WindowSnapshot & { failureRate: number; slowCallRate: number; state: BreakerState } {
    const totals = this.#window.snapshot();
    const rate = (part: number) => (totals.calls === 0 ? 0 : (part / totals.calls) * 100);
    return {
      ...totals,
      failureRate: rate(totals.failures),
      slowCallRate: rate(totals.slow),
      state: this.#state,
    };
  }

  #setState(next: BreakerState): void {
    const previous = this.#state;
    if (previous === next) return;
    this.#state = next;
    if (next === 'closed') {
      this.#window.reset();
      this.#timeoutsInARow = 0;
    }
    this.emit('state', next, previous);
  }

  #reject(): never {
    this.emit('call', 'rejected', 0);
    const seconds = this.#state === 'open' ? this.msUntilHalfOpen / 1000 : 1;
    throw withRetryAfter(new BreakerOpenError(), seconds);
  }

  /** Opens the breaker now (e.g. from an outside health signal); half-open follows after `resetTimeoutMs`. */
  open(reason = 'manual'): void {
    this.#lastTrip = reason;
    if (this.#state === 'open') return;
    if (!this.opossum.opened) this.opossum.open();
    else this.#setState('open');
  }

  /** Closes the breaker now and clears its window. */
  close(): void {
    this.opossum.close();
    this.#setState('closed');
  }

  /**
   * Runs `fn` through the breaker. Rejects at once with `BreakerOpenError` (503, Retry-After)
   * while open, or while half-open with every trial slot taken. Made while a request is handled,
   * the call follows the request's signal and gets the smaller of `timeoutMs` and what is left
   * of the request's deadline; with the budget already spent it fails at once, unrecorded.
   */
  async fire<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const own = this.options.timeoutMs > 0 ? this.options.timeoutMs : undefined;
    const deadline = currentDeadline();
    if (!deadline) return this.#fire(fn, signal, own);
    const requestSignal = deadline.signal;
    requestSignal.throwIfAborted();
    const remaining = deadline.remainingMs();
    if (remaining <= 0) throw deadline.timeoutError();
    // The request's signal aborts at its own deadline with its own error.
    const ms = own !== undefined && own < remaining ? own : undefined;
    if (!signal || signal === requestSignal) return this.#fire(fn, requestSignal, ms);
    const { controller, dispose } = linkedController(signal);
    const onAbort = () => controller.abort(requestSignal.reason);
    requestSignal.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.#fire(fn, controller.signal, ms);
    } finally {
      requestSignal.removeEventListener('abort', onAbort);
      dispose();
    }
  }

  async #fire<T>(
    fn: (signal: AbortSignal) => Promise<T>,
    signal: AbortSignal | undefined,
    ms: number | undefined,
  ): Promise<T> {
    let trial = false;
    if (this.#state === 'open') this.#reject();
    if (this.#state === 'half-open') {
      if (this.#trialsStarted >= this.options.halfOpenTrials) this.#reject();
      this.#trialsStarted++;
      trial = true;
    }
    const started = Date.now();
    let failed = false;
    let outcome: CallOutcome = 'success';
    try {
      return (await this.opossum.fire(fn as Task, signal, ms)) as T;
    } catch (error) {
      if (OpossumBreaker.isOurError(error as Error)) {
        // opossum's single half-open slot is taken by another trial
        if (trial) this.#trialsStarted--;
        outcome = 'rejected';
        this.#reject();
      }
      if (this.options.isFailure(error)) {
        failed = true;
        outcome = error instanceof TimeoutError ? 'timeout' : 'failure';
      } else {
        outcome = 'ignored';
      }
      throw error;
    } finally {
      const duration = Date.now() - started;
      const slow = duration >= this.options.slowCallDurationMs;
      if (outcome === 'success' && slow) outcome = 'slow';
      if (outcome === 'ignored') this.#ignore(trial, duration);
      else if (outcome !== 'rejected') this.#settle(trial, failed, slow, outcome, duration);
    }
  }

  // An error that says nothing about the dependency (a query's own error, a busy local pool) is
  // not recorded: counted as a success it would dilute the failure rate of a real outage, and
  // as a good trial it would close the breaker on no evidence. A trial slot it held is freed.
  #ignore(trial: boolean, duration: number): void {
    this.emit('call', 'ignored', duration);
    if (trial && this.#state === 'half-open') this.#trialsStarted--;
  }

  #settle(
    trial: boolean,
    failed: boolean,
    slow: boolean,
    outcome: CallOutcome,
    duration: number,
  ): void {
    this.emit('call', outcome, duration);
    if (trial) {
      if (failed || slow) this.#lastTrip = 'half-open-trial';
      if (this.#state !== 'half-open') return;
      if (failed || slow) {
        this.open('half-open-trial');
        return;
      }
      this.#trialsSucceeded++;
      if (this.#trialsSucceeded >= this.options.halfOpenTrials) {
        if (!this.opossum.closed) this.opossum.close();
        this.#setState('closed');
      }
      return;
    }
    if (this.#state !== 'closed') return;
    this.#window.record(failed, slow);
    if (outcome === 'timeout') this.#timeoutsInARow++;
    else if (!failed) this.#timeoutsInARow = 0;
    const threshold = this.options.consecutiveTimeouts;
    if (threshold > 0 && this.#timeoutsInARow >= threshold) {
      this.open('consecutive-timeouts');
      return;
    }
    const reason = tripReason(this.#window.snapshot(), this.options);
    if (reason) this.open(reason);
  }

  /** Stops opossum's timers; the breaker rejects everything afterwards. */
  shutdown(): void {
    this.opossum.shutdown();
  }
}
