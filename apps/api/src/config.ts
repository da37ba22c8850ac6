import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const int = (minimum: number, defaultValue: number, description: string, maximum?: number) =>
  Type.Integer({
    minimum,
    ...(maximum === undefined ? {} : { maximum }),
    default: defaultValue,
    description,
  });

/**
 * Every environment variable the reference API reads. Each key's description says what it
 * expects; the startup check turns each violation into one line naming the variable.
 */
export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union(
    [Type.Literal('development'), Type.Literal('production'), Type.Literal('test')],
    { default: 'development', description: 'development, production or test' },
  ),
  PORT: int(0, 3000, 'an integer TCP port from 0 to 65535', 65535),
  HOST: Type.String({
    minLength: 1,
    default: '127.0.0.1',
    description: 'an interface to bind; 0.0.0.0 in a container',
  }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) =>
      Type.Literal(level),
    ),
    {
      default: 'info',
      description: 'a pino level: fatal, error, warn, info, debug, trace or silent',
    },
  ),
  DATABASE_URL: Type.Optional(
    Type.String({
      pattern: '^postgres(ql)?://',
      description: 'a postgres:// URL; unset runs embedded PostgreSQL (PGlite)',
    }),
  ),
  PGLITE_DATA_DIR: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'a folder for the embedded database (unset: apps/api/.data/pglite), or memory:// to keep nothing',
    }),
  ),
  REDIS_URL: Type.Optional(
    Type.String({
      pattern: '^rediss?://',
      description: 'a redis:// URL; unset keeps rate limits per process and disables the queue',
    }),
  ),
  JWT_SECRET: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'the HMAC secret for access tokens; production: random, ≥ 32 characters and ≥ 128 bits of estimated entropy',
    }),
  ),
  JWT_ISSUER: Type.String({
    minLength: 1,
    default: 'bulwark-api',
    description: 'the iss claim tokens carry and verification requires',
  }),
  JWT_AUDIENCE: Type.String({
    minLength: 1,
    default: 'bulwark-api',
    description: 'the aud claim tokens carry and verification requires',
  }),
  JWT_EXPIRES_IN: Type.String({
    pattern: '^\\d+[smhd]$',
    default: '15m',
    description: 'an access token lifetime like 900s, 15m, 1h or 1d',
  }),
  INVITATION_EXPIRES_IN: Type.String({
    pattern: '^\\d+[smhd]$',
    default: '7d',
    description: 'how long an invitation can be used, like 48h or 7d',
  }),
  METRICS_TOKEN: Type.Optional(
    Type.String({
      minLength: 16,
      description: 'a bearer token of at least 16 characters for GET /metrics',
    }),
  ),
  HEALTH_TOKEN: Type.Optional(
    Type.String({
      minLength: 16,
      description:
        'a bearer token of at least 16 characters for GET /health/detailed and the /ops page',
    }),
  ),
  CORS_ORIGIN: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'a comma-separated list of allowed origins (https://app.example.com)',
    }),
  ),
  TRUST_PROXY: Type.String({
    default: 'false',
    description: 'false, true, a hop count, or comma-separated proxy addresses/CIDRs',
  }),
  RATE_LIMIT_GLOBAL_MAX: int(1, 600, 'requests per window per client IP, an integer ≥ 1'),
  RATE_LIMIT_GLOBAL_WINDOW_MS: int(1000, 60_000, 'the global window in ms, an integer ≥ 1000'),
  RATE_LIMIT_TENANT_MAX: int(1, 1000, 'requests per window per tenant, an integer ≥ 1'),
  RATE_LIMIT_TENANT_WINDOW_MS: int(1000, 60_000, 'the tenant window in ms, an integer ≥ 1000'),
  RATE_LIMIT_USER_MAX: int(1, 60, 'requests per window per user, an integer ≥ 1'),
  RATE_LIMIT_USER_WINDOW_MS: int(1000, 60_000, 'the user window in ms, an integer ≥ 1000'),
  RATE_LIMIT_AUTH_MAX: int(1, 5, 'login attempts per window per IP and account, an integer ≥ 1'),
  RATE_LIMIT_AUTH_WINDOW_MS: int(1000, 900_000, 'the auth window in ms, an integer ≥ 1000'),
  RATE_LIMIT_AUTH_ACCOUNT_MAX: int(
    1,
    10,
    'login and registration attempts per window per account, from any IP; an integer ≥ 1',
  ),
  RATE_LIMIT_AUTH_ACCOUNT_WINDOW_MS: int(
    1000,
    900_000,
    'the per-account auth window in ms, an integer ≥ 1000',
  ),
  RATE_LIMIT_AUTH_IP_MAX: int(
    1,
    30,
    'login and registration attempts per window per client IP, for any account; an integer ≥ 1',
  ),
  RATE_LIMIT_AUTH_IP_WINDOW_MS: int(
    1000,
    900_000,
    'the per-IP auth window in ms, an integer ≥ 1000',
  ),
  REQUEST_TIMEOUT_MS: int(
    1,
    30_000,
    'ms a client has to send a whole request, body included, before the socket is closed; an integer ≥ 1',
  ),
  HEADERS_TIMEOUT_MS: int(
    1,
    10_000,
    'ms a client has to send the request headers (slowloris), an integer ≥ 1 and ≤ REQUEST_TIMEOUT_MS',
  ),
  KEEP_ALIVE_TIMEOUT_MS: int(
    1,
    72_000,
    'ms an idle keep-alive connection stays open; above the load balancer idle timeout, an integer ≥ 1',
  ),
  BODY_LIMIT_BYTES: int(
    1,
    1_048_576,
    'the largest request body in bytes (413 beyond), an integer ≥ 1',
  ),
  DB_POOL_MIN: int(0, 2, 'the minimum pool size, an integer ≥ 0'),
  DB_POOL_MAX: int(1, 20, 'the maximum pool size, an integer ≥ 1'),
  DB_STATEMENT_TIMEOUT_MS: int(1, 30_000, 'the statement timeout in ms, an integer ≥ 1'),
  DB_CONNECTION_TIMEOUT_MS: int(1, 10_000, 'the connection timeout in ms, an integer ≥ 1'),
  DB_IDLE_TIMEOUT_MS: int(1, 30_000, 'the idle client timeout in ms, an integer ≥ 1'),
  DB_QUERY_TIMEOUT_MS: int(
    1,
    3000,
    'the client-side deadline of one database call in ms (connection wait included), an integer ≥ 1',
  ),
  REQUEST_DEADLINE_MS: int(
    0,
    4000,
    'the budget in ms of the dependency calls one request makes, an integer ≥ 0 (0: none)',
  ),
  DB_BREAKER_RESET_TIMEOUT_MS: int(
    100,
    30_000,
    'ms the postgres breaker stays open before half-open trials, an integer ≥ 100',
  ),
  DB_BREAKER_WINDOW_MS: int(
    1000,
    10_000,
    'the postgres breaker weighs the calls of this many ms, an integer ≥ 1000',
  ),
  SHUTDOWN_DELAY_MS: Type.Optional(
    Type.Integer({
      minimum: 0,
      description:
        'ms to stay up unready before closing, an integer ≥ 0 (unset: 5000 in production, 0 otherwise)',
    }),
  ),
  SHUTDOWN_TIMEOUT_MS: int(1, 30_000, 'the whole shutdown deadline in ms, an integer ≥ 1'),
  OUTBOX_SWEEP_INTERVAL_MS: int(
    100,
    30_000,
    'how often the outbox sweeper re-enqueues lost jobs, in ms, an integer ≥ 100',
  ),
  OUTBOX_STALE_AFTER_MS: int(
    0,
    60_000,
    'a pending outbox row relayed this many ms ago is checked against the queue, an integer ≥ 0',
  ),
  QUEUE_CONSUMER_LIVENESS_MS: int(
    1000,
    60_000,
    'a queue consumer with jobs waiting that starts none for this many ms fails readiness, an integer ≥ 1000',
  ),
  WORKER_HEALTH_PORT: int(
    0,
    3001,
    'the worker process health port, an integer from 0 to 65535',
    65535,
  ),
  WORKERS: Type.Union([Type.Literal('inline'), Type.Literal('off')], {
    default: 'inline',
    description: 'inline (workers run in the API process) or off (run `pnpm worker` apart)',
  }),
});

export type Config = Static<typeof ConfigSchema>;

/** Thrown with one line per problem; the entry point prints it and exits 1. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Secrets that appear in tutorials and .env.example files; never accepted in production. */
const KNOWN_DEFAULT_SECRETS = new Set([
  'secret',
  'changeme',
  'change-me',
  'supersecret',
  'jwt-secret',
  'your-secret-key',
  'development-only-secret-change-me',
]);

function isLocalOrigin(origin: string): boolean {
  return /^(https?:\/\/)?(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/i.test(origin.trim());
}

/** An absolute http(s) origin as browsers send it: scheme, host, optional port, nothing else. */
function isAbsoluteOrigin(origin: string): boolean {
  try {
    const url = new URL(origin);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === origin;
  } catch {
    return false;
  }
}

/**
 * Estimated entropy of a secret in bits: its length times the Shannon entropy of its characters.
 * It undercounts a truly random secret a little and catches what length alone lets through
 * (`aaaa…`, `abcabc…`, a word repeated). Written here because no well-kept library estimates the
 * entropy of a machine secret (zxcvbn and its ports judge human passwords).
 */
export function estimatedEntropyBits(secret: string): number {
  const counts = new Map<string, number>();
  const characters = [...secret];
  for (const character of characters) counts.set(character, (counts.get(character) ?? 0) + 1);
  let perCharacter = 0;
  for (const count of counts.values()) {
    const share = count / characters.length;
    perCharacter -= share * Math.log2(share);
  }
  return perCharacter * characters.length;
}

const MIN_SECRET_BITS = 128;
const GENERATE_SECRET = 'generate one with: openssl rand -base64 48';

/** The rules that only production enforces: no throwaway secrets, no open endpoints. */
function productionProblems(config: Config): string[] {
  const problems: string[] = [];
  const secret = config.JWT_SECRET;
  if (!secret)
    problems.push(
      `JWT_SECRET is unset: production needs a random secret of at least 32 characters; ${GENERATE_SECRET}`,
    );
  else if (secret.length < 32)
    problems.push(
      `JWT_SECRET is ${secret.length} characters: production needs at least 32; ${GENERATE_SECRET}`,
    );
  else if (KNOWN_DEFAULT_SECRETS.has(secret.toLowerCase()))
    problems.push(`JWT_SECRET is a well-known default: ${GENERATE_SECRET}`);
  else if (estimatedEntropyBits(secret) < MIN_SECRET_BITS)
    problems.push(
      `JWT_SECRET has about ${Math.floor(estimatedEntropyBits(secret))} bits of entropy: production needs at least ${MIN_SECRET_BITS} (a random secret, not a repeated or patterned one); ${GENERATE_SECRET}`,
    );
  if (!config.METRICS_TOKEN)
    problems.push('METRICS_TOKEN is unset: production does not serve /metrics without a token');
  const origins = config.CORS_ORIGIN?.split(',').map((origin) => origin.trim());
  if (!origins) problems.push('CORS_ORIGIN is unset: name the origins allowed to call the API');
  else if (origins.includes('*'))
    problems.push(
      'CORS_ORIGIN="*" would let any website call the API: name the production origins, like https://app.example.com',
    );
  else if (origins.some(isLocalOrigin))
    problems.push(
      `CORS_ORIGIN="${config.CORS_ORIGIN}" allows localhost: name the production origins`,
    );
  else if (!origins.every(isAbsoluteOrigin))
    problems.push(
      `CORS_ORIGIN="${config.CORS_ORIGIN}" has an entry that is not an absolute http(s) origin: write each like https://app.example.com (scheme, host, optional port, no path or trailing slash)`,
    );
  if (!config.DATABASE_URL)
    problems.push(
      'DATABASE_URL is unset: production has no embedded database, point it at PostgreSQL',
    );
  return problems;
}

function describe(schema: TSchema, message: string): string {
  return typeof schema.description === 'string'
    ? `expects ${schema.description}`
    : message.toLowerCase();
}

/** Reads, defaults, converts and validates the configuration from `env`. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.properties)) {
    const raw = env[key];
    if (raw !== undefined && raw !== '') input[key] = raw;
  }
  // Default and Convert work on a copy: the error message must quote the raw variable.
  const value = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, structuredClone(input)));
  const problems = [...Value.Errors(ConfigSchema, value)].map((error) => {
    const name = error.path.replace(/^\//, '').split('/')[0] ?? error.path;
    const property = ConfigSchema.properties[name as keyof Config] as TSchema | undefined;
    return `${name}=${JSON.stringify(env[name])} is invalid: ${describe(property ?? error.schema, error.message)}`;
  });
  const unique = [...new Set(problems)];
  if (unique.length === 0) {
    const config = value as Config;
    if (config.DB_POOL_MIN > config.DB_POOL_MAX) {
      unique.push(
        `DB_POOL_MIN=${config.DB_POOL_MIN} is above DB_POOL_MAX=${config.DB_POOL_MAX}: lower it or raise the max`,
      );
    }
    // A call that may outlast the shutdown deadline would be cut off mid-flight by it.
    for (const name of ['DB_QUERY_TIMEOUT_MS', 'REQUEST_DEADLINE_MS'] as const) {
      if (config[name] >= config.SHUTDOWN_TIMEOUT_MS) {
        unique.push(
          `${name}=${config[name]} is not below SHUTDOWN_TIMEOUT_MS=${config.SHUTDOWN_TIMEOUT_MS}: in-flight calls must end within the shutdown deadline, lower it`,
        );
      }
    }
    const delay = config.SHUTDOWN_DELAY_MS;
    if (delay !== undefined && delay >= config.SHUTDOWN_TIMEOUT_MS) {
      unique.push(
        `SHUTDOWN_DELAY_MS=${delay} is not below SHUTDOWN_TIMEOUT_MS=${config.SHUTDOWN_TIMEOUT_MS}: the delay is part of the shutdown deadline, lower it`,
      );
    }
    if (config.HEADERS_TIMEOUT_MS > config.REQUEST_TIMEOUT_MS) {
      unique.push(
        `HEADERS_TIMEOUT_MS=${config.HEADERS_TIMEOUT_MS} is above REQUEST_TIMEOUT_MS=${config.REQUEST_TIMEOUT_MS}: the headers are part of the request, lower it`,
      );
    }
    if (config.NODE_ENV === 'production') unique.push(...productionProblems(config));
  }
  // One line per problem, so an operator sees every mistake in one start.
  if (unique.length > 0) {
    throw new ConfigError(unique.map((problem) => `Invalid configuration: ${problem}`).join('\n'));
  }
  return value as Config;
}
