/**
 * One attempt of a job handler under a deadline. `result` settles no later than the deadline,
 * or at once when `abort(reason)` is called for another reason (shutdown). A handler that ignores
 * its signal keeps running in the background, but its worker slot is free: the attempt has failed
 * with the abort reason. Whatever the handler settles with afterwards is ignored.
 *
 * Hot path (one per job): every abort goes through `abort()`, which rejects `result` itself, so
 * no listener is added to the signal and nothing is allocated beyond the controller, one timer
 * and one promise. Abort the attempt, never `controller` directly.
 */
export class DeadlineAttempt<R> {
  readonly controller = new AbortController();
  readonly result: Promise<R>;
  private settled = false;
  private readonly timer: NodeJS.Timeout;
  private resolveResult!: (value: R) => void;
  private rejectResult!: (reason: unknown) => void;
  private readonly timeoutReason: () => Error;

  constructor(
    run: (signal: AbortSignal) => R | PromiseLike<R>,
    timeoutMs: number,
    timeoutReason: () => Error,
  ) {
    this.timeoutReason = timeoutReason;
    this.result = new Promise<R>((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    this.timer = setTimeout(onDeadline, timeoutMs, this);
    // The worker keeps the process alive while it runs; a deadline alone must not.
    this.timer.unref();
    let outcome: R | PromiseLike<R>;
    try {
      outcome = run(this.controller.signal);
    } catch (error) {
      this.fail(error);
      return;
    }
    // A native promise is followed directly; anything else (a value, a foreign thenable) through
    // Promise.resolve, which also contains a throwing `then`.
    (outcome instanceof Promise ? outcome : Promise.resolve(outcome)).then(
      (value: R) => this.succeed(value),
      (error: unknown) => this.fail(error),
    );
  }

  /** Aborts the signal with `reason` and fails the attempt with it, unless it already settled. */
  abort(reason: Error): void {
    if (this.settled) return;
    this.controller.abort(reason);
    this.fail(reason);
  }

  /** Whether `reason` is why this attempt was aborted. */
  abortedWith(reason: unknown): boolean {
    return this.controller.signal.aborted && this.controller.signal.reason === reason;
  }

  /** Called by the timer. */
  timeout(): void {
    if (!this.settled) this.abort(this.timeoutReason());
  }

  private succeed(value: R): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.resolveResult(value);
  }

  private fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.rejectResult(error);
  }
}

function onDeadline(attempt: { timeout(): void }): void {
  attempt.timeout();
}

/** Resolves `true` when `promise` settles within `ms`, `false` otherwise; never rejects. */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}
