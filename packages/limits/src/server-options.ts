/** The Fastify constructor options {@link serverOptions} returns (a subset of `FastifyServerOptions`). */
export interface LoadSafeServerOptions {
  bodyLimit: number;
  requestTimeout: number;
  connectionTimeout: number;
  keepAliveTimeout: number;
  routerOptions: { maxParamLength: number };
  onProtoPoisoning: 'error';
  onConstructorPoisoning: 'error';
  trustProxy: boolean | string[] | ((address: string, hop: number) => boolean);
  http: { headersTimeout: number; connectionsCheckingInterval: number };
}

function integer(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be an integer ≥ 0, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * `TRUST_PROXY`: unset/'false' → false (use the socket address; a client cannot spoof
 * X-Forwarded-For); 'true' → trust every proxy (only when nothing but the proxy can reach the
 * app); a number → trust that many hops; otherwise a comma list of proxy IPs/CIDRs.
 */
export function parseTrustProxy(raw: string | undefined): LoadSafeServerOptions['trustProxy'] {
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) {
    // What a hop count means to proxy-addr, as a function (Fastify's types take no number).
    const hops = Number(raw);
    return (_address, hop) => hop < hops;
  }
  return raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
}

/**
 * Load-safe options for the Fastify constructor: `Fastify(serverOptions(process.env))`.
 *
 * Every value, and why (env overrides in brackets):
 * - `bodyLimit` 1 MiB [BODY_LIMIT_BYTES]: a JSON API needs no more; larger bodies get 413 before
 *   they are buffered.
 * - `http.headersTimeout` 10 s [HEADERS_TIMEOUT_MS]: a client must finish its headers within it,
 *   or the socket is closed (408): the slowloris defence. Node checks every
 *   `connectionsCheckingInterval` (1 s, or the timeout if smaller), instead of its 30 s default.
 * - `requestTimeout` 30 s [REQUEST_TIMEOUT_MS]: the whole request, body included, must arrive
 *   within it (slow-body attacks).
 * - `keepAliveTimeout` 72 s [KEEP_ALIVE_TIMEOUT_MS]: longer than the idle timeout of the load
 *   balancer in front (AWS ALB 60 s, nginx 60 s), so the balancer, never the app, closes an idle
 *   connection; otherwise it may send a request on a socket the app is closing, and the client
 *   gets a 502. Behind a Google Cloud load balancer set it above 620 s.
 * - `connectionTimeout` 120 s: the last-resort cap on a socket with no traffic at all; above
 *   `keepAliveTimeout` so it never races it.
 * - `routerOptions.maxParamLength` 100: longer path parameters get 414 instead of reaching handlers and logs.
 * - `onProtoPoisoning` / `onConstructorPoisoning` 'error': a body with `__proto__` or
 *   `constructor.prototype` is rejected with 400 instead of being parsed or silently stripped.
 * - `trustProxy` from TRUST_PROXY (see {@link parseTrustProxy}); false by default, so `req.ip`
 *   (the rate limiter's key) cannot be spoofed with X-Forwarded-For.
 */
export function serverOptions(
  env: Record<string, string | undefined> = process.env,
): LoadSafeServerOptions {
  const headersTimeout = integer(env, 'HEADERS_TIMEOUT_MS', 10_000);
  const requestTimeout = integer(env, 'REQUEST_TIMEOUT_MS', 30_000);
  const keepAliveTimeout = integer(env, 'KEEP_ALIVE_TIMEOUT_MS', 72_000);
  if (requestTimeout > 0 && headersTimeout > requestTimeout) {
    throw new RangeError(
      `HEADERS_TIMEOUT_MS (${headersTimeout}) must be ≤ REQUEST_TIMEOUT_MS (${requestTimeout})`,
    );
  }
  return {
    bodyLimit: integer(env, 'BODY_LIMIT_BYTES', 1_048_576),
    requestTimeout,
    connectionTimeout: Math.max(120_000, keepAliveTimeout + 10_000),
    keepAliveTimeout,
    // Under routerOptions: the top-level option prints FSTDEP022 on every start since Fastify 5.x
    // moved router settings there (Fastify's own default is 100 too, so older 5.x lose nothing).
    routerOptions: { maxParamLength: 100 },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    http: {
      headersTimeout,
      connectionsCheckingInterval: Math.max(100, Math.min(1000, headersTimeout)),
    },
  };
}
