import plugin, { bulwarkResilience } from './plugin.js';

export { bulwarkResilience };
export { type Backoff, type BackoffOptions, createBackoff, type Jitter } from './backoff.js';
export {
  Breaker,
  type BreakerEvents,
  type BreakerOptions,
  type BreakerState,
  type CallOutcome,
  resolveBreakerOptions,
} from './breaker.js';
export { BreakerRegistry, type RegistryIntegrations } from './breaker-registry.js';
export {
  type CallWindow,
  CountWindow,
  TimeWindow,
  tripReason,
  type WindowSnapshot,
} from './breaker-window.js';
export { Bulkhead, type BulkheadObserver, type BulkheadOptions } from './bulkhead.js';
export {
  type PoolStats,
  type QueryOptions,
  ResilientDb,
  type TransactionClient,
  type TransactionOptions,
} from './db.js';
export { isDatabaseFailure } from './db-errors.js';
export * as errors from './errors.js';
export type { HealthCheckSpec, HealthLike, MetricsLike } from './integration.js';
export type { ResilienceOptions } from './options.js';
export {
  currentDeadline,
  effectiveTimeout,
  RequestDeadline,
  runDetached,
  runWithDeadline,
} from './request-deadline.js';
export { type AttemptContext, type RetryOptions, retry } from './retry.js';
export { RetryBudget, type RetryBudgetObserver, type RetryBudgetOptions } from './retry-budget.js';
export { type TimeoutOptions, timeout } from './timeout.js';
export {
  isConnectionError,
  isTransientError,
  postgresSqlState,
  transientNetworkCodes,
  transientPostgresCodes,
} from './transient.js';
export default plugin;
