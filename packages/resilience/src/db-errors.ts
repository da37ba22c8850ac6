import {
  BreakerOpenError,
  DbPoolExhaustedError,
  DbUnavailableError,
  TimeoutError,
} from './errors.js';
import { withRetryAfter } from './retry-after.js';
import { isConnectionError, postgresSqlState, transientPostgresCodes } from './transient.js';

/** Set on errors of one database attempt: true when the statement never reached the server. */
export const notSent = Symbol('bulwark.resilience.notSent');

type Marked = Error & { [notSent]?: boolean };

// pg-pool's message when a checkout waited connectionTimeoutMillis in the queue of a full pool.
const poolWaitTimeout = 'timeout exceeded when trying to connect';

/** Whether the error of a checkout means "every pooled connection stayed busy". */
export function isPoolWaitTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === poolWaitTimeout;
}

/**
 * Classifies a failed `pool.connect()`: pool exhausted, or database unavailable (never sent).
 * A wait that timed out while some pooled connection is itself still connecting means the
 * pool is full of attempts the server does not answer: that is an outage, not a busy pool.
 */
export function checkoutError(error: unknown, poolHasConnectingClient = false): Error {
  if (isPoolWaitTimeout(error) && !poolHasConnectingClient) {
    return withRetryAfter(new DbPoolExhaustedError({ cause: error }), 1);
  }
  const wrapped: Marked = withRetryAfter(new DbUnavailableError({ cause: error }), 1);
  wrapped[notSent] = true;
  return wrapped;
}

/**
 * Classifies a failed statement. Connection-level failures become `DbUnavailableError`; they
 * were not applied when the server said it was shutting down (57P0x) or the client was already
 * unusable; otherwise it is unknown whether the statement ran. A query's own errors pass through.
 */
export function statementError(error: unknown): unknown {
  if (error instanceof DbUnavailableError || error instanceof DbPoolExhaustedError) return error;
  if (!isConnectionError(error)) return error;
  const state = postgresSqlState(error);
  const message = error instanceof Error ? error.message : '';
  const wrapped: Marked = withRetryAfter(new DbUnavailableError({ cause: error }), 1);
  wrapped[notSent] =
    (state !== undefined && /^57P0[123]$/.test(state)) || message.includes('not queryable');
  return wrapped;
}

/** Whether an error counts against the `postgres` breaker (the database, not the query, failed). */
export function isDatabaseFailure(error: unknown): boolean {
  if (error instanceof DbUnavailableError || error instanceof TimeoutError) return true;
  const state = postgresSqlState(error);
  // 57014 statement timeout, 53xxx insufficient resources, 58xxx system errors
  return (
    state !== undefined && (state === '57014' || state.startsWith('53') || state.startsWith('58'))
  );
}

/**
 * The `postgres` breaker's `isFailure`: {@link isDatabaseFailure}, plus pool exhaustion while the
 * breaker is not closed (a trial that cannot even get a connection has not shown recovery).
 */
export function databaseFailurePredicate(state: () => string): (error: unknown) => boolean {
  return (error) =>
    isDatabaseFailure(error) || (error instanceof DbPoolExhaustedError && state() !== 'closed');
}

/** The underlying pg error of a wrapped one. */
function root(error: unknown): unknown {
  return error instanceof DbUnavailableError ? (error as Error).cause : error;
}

/** Retryable for a single statement: never sent, or idempotent and transient. */
export function isRetryableStatement(error: unknown, idempotent: boolean): boolean {
  if ((error as Marked | null)?.[notSent] === true) return true;
  if (!idempotent) return false;
  if (error instanceof DbUnavailableError) return true;
  const state = postgresSqlState(root(error));
  return state !== undefined && transientPostgresCodes.has(state);
}

/** Retryable for a whole transaction: never started, or serialization failure / deadlock. */
export function isRetryableTransaction(error: unknown): boolean {
  if ((error as Marked | null)?.[notSent] === true) return true;
  const state = postgresSqlState(error);
  return state === '40001' || state === '40P01';
}

/** What a caller sees when the breaker rejected: database unavailable, with the breaker's Retry-After. */
export function publicError(error: unknown): unknown {
  if (error instanceof BreakerOpenError) {
    const wrapped = new DbUnavailableError({ cause: error });
    const retryAfter = (error as { headers?: Record<string, string> }).headers?.['retry-after'];
    return withRetryAfter(wrapped, Number(retryAfter ?? 1));
  }
  return error;
}
