import type { Config } from '../config.js';

/**
 * The options of @bulwark/resilience's pool, from the configuration: one place for the API and
 * the worker process, so both get the same timeouts, breaker and criticality.
 */
export function resilientDbOptions(config: Config, url: string, embedded = false) {
  return {
    connectionString: url,
    // PGlite runs one statement at a time behind a 10-connection multiplexer.
    min: embedded ? 1 : config.DB_POOL_MIN,
    max: embedded ? 5 : config.DB_POOL_MAX,
    connectionTimeoutMillis: config.DB_CONNECTION_TIMEOUT_MS,
    idleTimeoutMillis: config.DB_IDLE_TIMEOUT_MS,
    statementTimeoutMillis: config.DB_STATEMENT_TIMEOUT_MS,
    // The client-side deadline of one call (connection wait included): a server that stops
    // answering (dropped packets) never runs statement_timeout, so only this ends such a call.
    queryTimeoutMillis: config.DB_QUERY_TIMEOUT_MS,
    critical: true,
    breaker: {
      resetTimeoutMs: config.DB_BREAKER_RESET_TIMEOUT_MS,
      windowMs: config.DB_BREAKER_WINDOW_MS,
    },
  };
}
