// The check registry: runs every check in the background on its own interval, bounded by its own
// timeout, and keeps the last result of each, so that probes read a cached answer in O(1) and
// never wait on a dependency. Free of Fastify: the plugin wires it to routes, hooks and metrics.
import { performance } from 'node:perf_hooks';
import { CheckTimeoutError, DuplicateCheckError, InvalidCheckError } from './errors.js';
import { describeError, sanitizeDetails } from './sanitize.js';

/** What a check function receives and returns. Throw (or reject) to fail. */
export type CheckFunction = (signal: AbortSignal) => Promise<unknown> | unknown;

/** A check given to `fastify.health.register()`. */
export interface HealthCheck {
  /** Unique name, shown in probe bodies, the detailed view and metrics labels. */
  name: string;
  /**
   * Resolves (optionally with a details object: latency, pool sizes…) to pass, throws to fail.
   * Honour the signal: it aborts when the run times out or the app closes.
   */
  check: CheckFunction;
  /** A failing critical check makes the app unready; a non-critical one only `degraded`. @default true */
  critical?: boolean;
  /** Longest one run may take before it is failed and aborted (ms). @default checkTimeoutMs (2000) */
  timeoutMs?: number;
  /** Time between the starts of two runs (ms). @default checkIntervalMs (5000) */
  intervalMs?: number;
  /** Free-form labels shown in the detailed view. */
  tags?: string[];
}

/** Result state of one check. `pending` until its first run finishes. */
export type CheckStatus = 'pending' | 'pass' | 'fail';
/** Overall status: all critical pass → healthy; only non-critical fail → degraded; else unhealthy. */
export type OverallStatus = 'healthy' | 'degraded' | 'unhealthy';

/** One check in the detailed view. */
export interface CheckReport {
  status: CheckStatus;
  critical: boolean;
  tags: string[];
  timeoutMs: number;
  intervalMs: number;
  /** Duration of the last finished run (ms). */
  latencyMs: number | null;
  lastCheckedAt: string | null;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  /** Sanitised message of the last failure (no connection strings, secrets or stack traces). */
  lastError: string | null;
  consecutiveFailures: number;
  /** What the check resolved with on its last success, sanitised. */
  details?: unknown;
}

/** Called after every run, e.g. to update metrics. */
export type ResultListener = (name: string, passed: boolean, durationSeconds: number) => void;
/** Called when a check changes between pass and fail, e.g. to log. */
export type TransitionListener = (
  name: string,
  passed: boolean,
  error: string | null,
  first: boolean,
) => void;

interface CheckEntry {
  readonly name: string;
  readonly check: CheckFunction;
  readonly critical: boolean;
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly tags: string[];
  status: CheckStatus;
  passedOnce: boolean;
  latencyMs: number | null;
  lastCheckedAt: number | null;
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
  lastError: string | null;
  consecutiveFailures: number;
  details: unknown;
  timer: NodeJS.Timeout | undefined;
  controller: AbortController | undefined;
  firstRun: Promise<void>;
  settleFirstRun: () => void;
}

/** Snapshot the probes read; rebuilt only when a result changes. */
export interface Summary {
  status: OverallStatus;
  /** Critical checks failing, or not yet passed once while startup is incomplete. */
  criticalFailing: string[];
  nonCriticalFailing: string[];
  /** Critical checks that have never passed. */
  criticalNeverPassed: string[];
}

export interface CheckRegistryOptions {
  defaultTimeoutMs: number;
  defaultIntervalMs: number;
  onResult?: ResultListener;
  onTransition?: TransitionListener;
  /** Called whenever the summary may have changed. */
  onChange?: () => void;
}

function positiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1;
}

export class CheckRegistry {
  readonly #entries = new Map<string, CheckEntry>();
  readonly #options: CheckRegistryOptions;
  #started = false;
  #stopped = false;
  /** Entries whose first run has not finished; the probes' only reason to wait. */
  readonly #awaitingFirstRun = new Set<CheckEntry>();
  #summary: Summary | undefined;

  constructor(options: CheckRegistryOptions) {
    this.#options = options;
  }

  /** Adds a check; it starts at once if the registry runs already. */
  register(input: HealthCheck): void {
    if (input === null || typeof input !== 'object') {
      throw new InvalidCheckError(`register() takes { name, check }, got ${String(input)}`);
    }
    const { name, check, critical = true, tags = [] } = input;
    if (typeof name !== 'string' || name.length === 0 || name.length > 100) {
      throw new InvalidCheckError(
        `check name must be a non-empty string of at most 100 characters, got ${JSON.stringify(name)}`,
      );
    }
    if (typeof check !== 'function') {
      throw new InvalidCheckError(
        `check "${name}" must have a check(signal) function, got ${typeof check}`,
      );
    }
    if (typeof critical !== 'boolean') {
      throw new InvalidCheckError(
        `check "${name}": critical must be a boolean, got ${JSON.stringify(critical)}`,
      );
    }
    if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string')) {
      throw new InvalidCheckError(`check "${name}": tags must be an array of strings`);
    }
    const intervalMs = input.intervalMs ?? this.#options.defaultIntervalMs;
    const timeoutMs = input.timeoutMs ?? Math.min(this.#options.defaultTimeoutMs, intervalMs);
    if (!positiveInteger(intervalMs)) {
      throw new InvalidCheckError(
        `check "${name}": intervalMs must be an integer ≥ 1, got ${JSON.stringify(intervalMs)}`,
      );
    }
    if (!positiveInteger(timeoutMs)) {
      throw new InvalidCheckError(
        `check "${name}": timeoutMs must be an integer ≥ 1, got ${JSON.stringify(timeoutMs)}`,
      );
    }
    if (this.#entries.has(name)) throw new DuplicateCheckError(name);

    let settleFirstRun!: () => void;
    const firstRun = new Promise<void>((resolve) => {
      settleFirstRun = resolve;
    });
    const entry: CheckEntry = {
      name,
      check,
      critical,
      timeoutMs,
      intervalMs,
      tags: [...tags],
      status: 'pending',
      passedOnce: false,
      latencyMs: null,
      lastCheckedAt: null,
      lastSuccessAt: null,
      lastFailureAt: null,
      lastError: null,
      consecutiveFailures: 0,
      details: undefined,
      timer: undefined,
      controller: undefined,
      firstRun,
      settleFirstRun,
    };
    this.#entries.set(name, entry);
    // After stop nothing runs any more, so nothing may wait for a first result either.
    if (this.#stopped) settleFirstRun();
    else this.#awaitingFirstRun.add(entry);
    this.#changed();
    if (this.#started && !this.#stopped) void this.#run(entry);
  }

  /** Starts every registered check now, in parallel. */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    for (const entry of this.#entries.values()) void this.#run(entry);
  }

  /** Clears every timer and aborts runs in flight; waiting probes are released. */
  stop(): void {
    this.#stopped = true;
    for (const entry of this.#entries.values()) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
      entry.controller?.abort(new DOMException('the app is closing', 'AbortError'));
      entry.settleFirstRun();
    }
    this.#awaitingFirstRun.clear();
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Resolves when every check has finished its first run, which takes at most the longest
   * check timeout once started; `undefined` when nothing is pending (the probes' fast path).
   */
  firstRuns(): Promise<void> | undefined {
    if (this.#awaitingFirstRun.size === 0 || !this.#started) return undefined;
    return Promise.all([...this.#awaitingFirstRun].map((entry) => entry.firstRun)).then(
      () => undefined,
    );
  }

  /** The cached summary; O(1) unless a result changed since the last call. */
  summary(): Summary {
    if (this.#summary) return this.#summary;
    const criticalFailing: string[] = [];
    const nonCriticalFailing: string[] = [];
    const criticalNeverPassed: string[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.critical && !entry.passedOnce) criticalNeverPassed.push(entry.name);
      if (entry.status === 'fail')
        (entry.critical ? criticalFailing : nonCriticalFailing).push(entry.name);
      else if (entry.status === 'pending' && entry.critical && this.#started) {
        // A critical check that has not answered yet cannot vouch for readiness.
        criticalFailing.push(entry.name);
      }
    }
    const status: OverallStatus =
      criticalFailing.length > 0
        ? 'unhealthy'
        : nonCriticalFailing.length > 0
          ? 'degraded'
          : 'healthy';
    this.#summary = { status, criticalFailing, nonCriticalFailing, criticalNeverPassed };
    return this.#summary;
  }

  /** Every check with its last result, for the detailed view. */
  report(): Record<string, CheckReport> {
    const out: Record<string, CheckReport> = {};
    const iso = (time: number | null) => (time === null ? null : new Date(time).toISOString());
    for (const entry of this.#entries.values()) {
      out[entry.name] = {
        status: entry.status,
        critical: entry.critical,
        tags: entry.tags,
        timeoutMs: entry.timeoutMs,
        intervalMs: entry.intervalMs,
        latencyMs: entry.latencyMs,
        lastCheckedAt: iso(entry.lastCheckedAt),
        lastSuccessAt: iso(entry.lastSuccessAt),
        lastFailureAt: iso(entry.lastFailureAt),
        lastError: entry.lastError,
        consecutiveFailures: entry.consecutiveFailures,
        ...(entry.details === undefined ? {} : { details: entry.details }),
      };
    }
    return out;
  }

  #changed(): void {
    this.#summary = undefined;
    this.#options.onChange?.();
  }

  async #run(entry: CheckEntry): Promise<void> {
    entry.timer = undefined;
    const controller = new AbortController();
    entry.controller = controller;
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    // The timer is created before the check is called, so a check that blocks synchronously
    // still finds it expired as soon as it returns.
    const timedOut = new Promise<{ ok: false; error: unknown; late: true }>((resolve) => {
      timer = setTimeout(() => {
        const error = new CheckTimeoutError(entry.timeoutMs);
        controller.abort(new DOMException(error.message, 'TimeoutError'));
        resolve({ ok: false, error, late: true });
      }, entry.timeoutMs);
      timer.unref();
    });
    const attempt = (async () => entry.check(controller.signal))().then(
      (details) => ({ ok: true as const, details }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const outcome = await Promise.race([attempt, timedOut]);
    clearTimeout(timer);
    // A check that ignores its abort signal keeps running past its timeout. The next run starts
    // only once this one has settled, so runs never pile up (a hung Postgres would otherwise get
    // one more stuck query per interval, until its pool is exhausted); meanwhile the check stays
    // failed, and what the late run resolves with is discarded.
    const stillRunning = 'late' in outcome;
    if (entry.controller === controller) entry.controller = undefined;
    if (this.#stopped) return;

    const now = Date.now();
    const duration = performance.now() - started;
    const wasPassing = entry.status === 'pass';
    const wasPending = entry.status === 'pending';
    entry.latencyMs = Math.round(duration * 100) / 100;
    entry.lastCheckedAt = now;
    if (outcome.ok) {
      entry.status = 'pass';
      entry.passedOnce = true;
      entry.lastSuccessAt = now;
      entry.consecutiveFailures = 0;
      entry.details =
        outcome.details === undefined || outcome.details === null
          ? undefined
          : sanitizeDetails(outcome.details);
    } else {
      entry.status = 'fail';
      entry.lastFailureAt = now;
      entry.lastError = describeError(outcome.error);
      entry.consecutiveFailures += 1;
    }
    this.#options.onResult?.(entry.name, outcome.ok, duration / 1000);
    if (wasPending || wasPassing !== outcome.ok) {
      this.#options.onTransition?.(
        entry.name,
        outcome.ok,
        outcome.ok ? null : entry.lastError,
        wasPending,
      );
    }
    if (this.#awaitingFirstRun.delete(entry)) entry.settleFirstRun();
    this.#changed();
    // Start-to-start cadence, never overlapping: a run that took longer than the interval is
    // followed at once by the next, but never before it has settled.
    if (stillRunning) void attempt.then(() => this.#schedule(entry, started));
    else this.#schedule(entry, started);
  }

  #schedule(entry: CheckEntry, started: number): void {
    if (this.#stopped) return;
    const elapsed = performance.now() - started;
    entry.timer = setTimeout(() => void this.#run(entry), Math.max(0, entry.intervalMs - elapsed));
    entry.timer.unref();
  }
}
