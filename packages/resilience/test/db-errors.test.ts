import { describe, expect, it } from 'vitest';
import {
  checkoutError,
  databaseFailurePredicate,
  isDatabaseFailure,
  isRetryableStatement,
  isRetryableTransaction,
  notSent,
  publicError,
  statementError,
} from '../src/db-errors.js';
import { errors } from '../src/index.js';

const pgError = (code: string, message = code) => Object.assign(new Error(message), { code });
const poolWait = () => new Error('timeout exceeded when trying to connect');

describe('database error classification', () => {
  it('a checkout that waited on a full pool is exhaustion, unless connections are still connecting', () => {
    const busy = checkoutError(poolWait());
    expect(busy).toBeInstanceOf(errors.DbPoolExhaustedError);
    expect(busy).toMatchObject({ statusCode: 503, headers: { 'retry-after': '1' } });
    expect(isDatabaseFailure(busy)).toBe(false);
    const stuck = checkoutError(poolWait(), true);
    expect(stuck).toBeInstanceOf(errors.DbUnavailableError);
    expect(isDatabaseFailure(stuck)).toBe(true);
  });

  it('a failed connection attempt is unavailability, never sent, retryable even when not idempotent', () => {
    const refused = checkoutError(pgError('ECONNREFUSED'));
    expect(refused).toBeInstanceOf(errors.DbUnavailableError);
    expect((refused as { [notSent]?: boolean })[notSent]).toBe(true);
    expect(isRetryableStatement(refused, false)).toBe(true);
    expect(isRetryableTransaction(refused)).toBe(true);
  });

  it('admin shutdown on a statement means it was not applied; a lost connection is unknown', () => {
    const shutdown = statementError(
      pgError('57P01', 'terminating connection due to administrator command'),
    );
    expect(shutdown).toBeInstanceOf(errors.DbUnavailableError);
    expect(isRetryableStatement(shutdown, false)).toBe(true);
    const lost = statementError(new Error('Connection terminated unexpectedly'));
    expect(lost).toBeInstanceOf(errors.DbUnavailableError);
    expect(isRetryableStatement(lost, false)).toBe(false);
    expect(isRetryableStatement(lost, true)).toBe(true);
  });

  it("passes a query's own error through, not retried and not a failure", () => {
    for (const code of ['42601', '23505', '22012', '28P01']) {
      const error = pgError(code);
      expect(statementError(error)).toBe(error);
      expect(isRetryableStatement(error, true)).toBe(false);
      expect(isDatabaseFailure(error)).toBe(false);
    }
  });

  it('retries serialization failures and deadlocks for whole transactions, and idempotent statements', () => {
    for (const code of ['40001', '40P01']) {
      expect(isRetryableTransaction(pgError(code))).toBe(true);
      expect(isRetryableStatement(pgError(code), true)).toBe(true);
      expect(isRetryableStatement(pgError(code), false)).toBe(false);
    }
    expect(isRetryableTransaction(pgError('23505'))).toBe(false);
  });

  it('statement timeouts and resource exhaustion on the server count against the breaker', () => {
    expect(isDatabaseFailure(pgError('57014'))).toBe(true);
    expect(isDatabaseFailure(pgError('53300'))).toBe(true);
    expect(isDatabaseFailure(new errors.TimeoutError(10))).toBe(true);
  });

  it('pool exhaustion fails a trial of a breaker that is not closed', () => {
    let state = 'closed';
    const isFailure = databaseFailurePredicate(() => state);
    const busy = checkoutError(poolWait());
    expect(isFailure(busy)).toBe(false);
    state = 'half-open';
    expect(isFailure(busy)).toBe(true);
  });

  it('shows a breaker rejection as database unavailable with the same Retry-After', () => {
    const open = Object.assign(new errors.BreakerOpenError(), { headers: { 'retry-after': '17' } });
    const shown = publicError(open);
    expect(shown).toBeInstanceOf(errors.DbUnavailableError);
    expect(shown).toMatchObject({ headers: { 'retry-after': '17' }, cause: open });
    const other = new Error('x');
    expect(publicError(other)).toBe(other);
  });
});
