import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerResponse } from 'node:http';
import { RequestAbortedError, TimeoutError } from './errors.js';
import { withRetryAfter } from './retry-after.js';

/**
 * The deadline and cancellation of the HTTP request a call is made for. Every Bulwark-wrapped
 * call (`fastify.db`, `breaker.fire`, `retry`, `queues.add`) made while handling a request finds
 * it through {@link currentDeadline}, takes the smaller of its own timeout and
 * {@link RequestDeadline.remainingMs}, and follows {@link RequestDeadline.signal}: a client that
 * disconnects, or a request whose budget is spent, aborts the calls made for it.
 */
export class RequestDeadline {
  /** `Date.now()` at which the request's budget is spent; `Infinity` without a deadline. */
  readonly deadlineAt: number;
  /** The request's budget in ms (0: none). */
  readonly budgetMs: number;
  readonly #response: ServerResponse;
  #controller: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(response: ServerResponse, budgetMs: number, startedAt = Date.now()) {
    this.#response = response;
    this.budgetMs = budgetMs;
    this.deadlineAt = budgetMs > 0 ? startedAt + budgetMs : Number.POSITIVE_INFINITY;
  }

  /**
   * Whether the request is still being handled. Once its response is sent the deadline no longer
   * applies: work that outlives the response on purpose (or a callback that happens to run in
   * the request's async context) is not bound by it. A request whose client went away stays
   * active, so what its handler still calls fails at once instead of running for nobody.
   */
  get active(): boolean {
    return !this.#response.writableFinished;
  }

  /** Milliseconds left of the budget (`Infinity` without a deadline; ≤ 0 once spent). */
  remainingMs(): number {
    return this.deadlineAt - Date.now();
  }

  /**
   * Aborts when the client disconnects before the response was sent (reason
   * `BULWARK_RESILIENCE_REQUEST_ABORTED`) or the budget is spent (reason
   * `BULWARK_RESILIENCE_TIMEOUT`, 503 + Retry-After). Created on first use, so a request that
   * calls no dependency pays for no controller, timer or listener.
   */
  get signal(): AbortSignal {
    if (this.#controller) return this.#controller.signal;
    const controller = new AbortController();
    this.#controller = controller;
    const response = this.#response;
    if (response.writableFinished) return controller.signal;
    if (response.destroyed) {
      controller.abort(new RequestAbortedError());
      return controller.signal;
    }
    const remaining = this.remainingMs();
    if (remaining <= 0) {
      controller.abort(this.timeoutError());
      return controller.signal;
    }
    if (Number.isFinite(remaining)) {
      this.#timer = setTimeout(() => controller.abort(this.timeoutError()), remaining);
      this.#timer.unref();
    }
    response.once('close', () => {
      if (this.#timer) clearTimeout(this.#timer);
      if (!response.writableFinished) controller.abort(new RequestAbortedError());
    });
    return controller.signal;
  }

  /** The error a call fails with when the request's budget is spent. */
  timeoutError(): Error {
    return withRetryAfter(new TimeoutError(this.budgetMs), 1);
  }
}

const storage = new AsyncLocalStorage<RequestDeadline>();

/** The deadline of the request being handled in this async context, if any and still active. */
export function currentDeadline(): RequestDeadline | undefined {
  const deadline = storage.getStore();
  return deadline?.active ? deadline : undefined;
}

/** Runs `fn` with `deadline` as the current request's deadline. */
export function runWithDeadline<T>(deadline: RequestDeadline, fn: () => T): T {
  return storage.run(deadline, fn);
}

/**
 * Runs `fn` outside any request's deadline: for background work (probes, timers) that may be
 * started while a request is handled but must not inherit its budget or its cancellation.
 */
export function runDetached<T>(fn: () => T): T {
  return storage.exit(fn);
}

/**
 * The smaller of `ownMs` (0 or less: none) and what is left of the current request's budget.
 * Returns `undefined` when neither sets a limit.
 */
export function effectiveTimeout(
  ownMs: number | undefined,
  deadline: RequestDeadline | undefined,
): number | undefined {
  const own = ownMs !== undefined && ownMs > 0 ? ownMs : Number.POSITIVE_INFINITY;
  const left = deadline ? deadline.remainingMs() : Number.POSITIVE_INFINITY;
  const ms = Math.min(own, left);
  return Number.isFinite(ms) ? ms : undefined;
}
