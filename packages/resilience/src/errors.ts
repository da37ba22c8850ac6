import createError from '@fastify/error';

/** An option given to the plugin or a policy is missing, of the wrong type, or out of range. */
export const InvalidOptionError = createError<[string]>(
  'BULWARK_RESILIENCE_INVALID_OPTION',
  '@bulwark/resilience: %s',
  500,
  TypeError,
);

/** The plugin was registered twice in the same encapsulation scope. */
export const AlreadyRegisteredError = createError(
  'BULWARK_RESILIENCE_ALREADY_REGISTERED',
  '@bulwark/resilience is already registered in this scope; register it once, at the root of the app',
  500,
);

/**
 * A circuit breaker is open (or half-open with every trial slot taken) and rejected the call
 * without running it. Carries `headers['retry-after']`, the seconds left until half-open.
 */
export const BreakerOpenError = createError(
  'BULWARK_RESILIENCE_BREAKER_OPEN',
  'A dependency is unavailable; retry after the number of seconds in Retry-After',
  503,
);

/** A call ran past its deadline and was aborted. */
export const TimeoutError = createError<[number]>(
  'BULWARK_RESILIENCE_TIMEOUT',
  'A dependency did not answer within %d ms',
  503,
);

/**
 * The client of the request a call was made for disconnected before its response was sent; the
 * call was aborted (a running Postgres statement is cancelled). A 4xx status, so breakers do not
 * count it against the dependency; nobody is left to read it.
 */
export const RequestAbortedError = createError(
  'BULWARK_RESILIENCE_REQUEST_ABORTED',
  'The client closed the request before its response was sent; its calls were cancelled',
  499,
);

/** A bulkhead's concurrent slots and wait queue are all taken (or the wait ran out). */
export const BulkheadFullError = createError(
  'BULWARK_RESILIENCE_BULKHEAD_FULL',
  'Too many concurrent calls to a dependency; retry after the number of seconds in Retry-After',
  503,
);

/** A breaker with this name already exists with other options. */
export const BreakerExistsError = createError<[string]>(
  'BULWARK_RESILIENCE_BREAKER_EXISTS',
  'a circuit breaker named "%s" already exists; use fastify.breakers.get(name) to reuse it',
  500,
);

/** Every pooled Postgres connection stayed busy for the whole acquire timeout. */
export const DbPoolExhaustedError = createError(
  'BULWARK_DB_POOL_EXHAUSTED',
  'The database connection pool is busy; retry after the number of seconds in Retry-After',
  503,
);

/** Postgres cannot be reached (connection refused, reset, timed out, or its breaker is open). */
export const DbUnavailableError = createError(
  'BULWARK_DB_UNAVAILABLE',
  'The database is unavailable; retry after the number of seconds in Retry-After',
  503,
);

/** `fastify.db` was used after the app started closing. */
export const DbClosedError = createError(
  'BULWARK_DB_CLOSED',
  'The database pool is closed because the service is shutting down',
  503,
);
