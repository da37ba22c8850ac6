/** Node.js socket error codes that say the network, not the request, failed. */
export const transientNetworkCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTCONN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Postgres SQLSTATEs worth retrying: admin/crash shutdown and "cannot connect now" (57P01-3),
 * serialization failure (40001) and deadlock (40P01). Class 08 (connection exception) is
 * matched by prefix in {@link postgresSqlState}.
 */
export const transientPostgresCodes: ReadonlySet<string> = new Set([
  '57P01',
  '57P02',
  '57P03',
  '40001',
  '40P01',
]);

interface MaybeCoded {
  code?: unknown;
  statusCode?: unknown;
  cause?: unknown;
  message?: unknown;
}

/** The SQLSTATE of a `pg` error, or undefined when the error did not come from the server. */
export function postgresSqlState(error: unknown): string | undefined {
  const code = (error as MaybeCoded | null)?.code;
  // Node's codes (EPIPE) can look like a SQLSTATE; no SQLSTATE class starts with E.
  return typeof code === 'string' && /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(code) ? code : undefined;
}

/** True for a connection-level SQLSTATE: class 08 or 57P0x (the server is going away). */
export function isPostgresConnectionState(state: string | undefined): boolean {
  return state !== undefined && (state.startsWith('08') || /^57P0[123]$/.test(state));
}

const connectionMessages = [
  'Connection terminated',
  'connection timeout',
  'not queryable',
  'Client was closed and is not queryable',
];

/** True when a `pg` error says the connection, not the query, failed. */
export function isConnectionError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const { code, message, cause } = error as MaybeCoded;
  if (typeof code === 'string' && transientNetworkCodes.has(code)) return true;
  if (isPostgresConnectionState(postgresSqlState(error))) return true;
  if (typeof message === 'string' && connectionMessages.some((text) => message.includes(text))) {
    return true;
  }
  return cause !== undefined && cause !== error && isConnectionError(cause);
}

/**
 * The default retryable predicate: transient network errors and the Postgres classes above
 * are retried; everything else (auth, syntax, constraint violations, 4xx) fails at once.
 */
export function isTransientError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const { statusCode } = error as MaybeCoded;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) return false;
  const state = postgresSqlState(error);
  if (state !== undefined) {
    return transientPostgresCodes.has(state) || state.startsWith('08');
  }
  return isConnectionError(error);
}
