import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { InvalidOptionError } from './errors.js';

// Built twice: with defaults for `breaker`, without them for `db.breaker`, whose unset keys must
// fall back to `breaker` rather than to the schema defaults.
function breakerSchema(withDefaults: boolean) {
  const d = <T>(value: T) => (withDefaults ? { default: value } : {});
  return Type.Object(
    {
      windowType: Type.Union([Type.Literal('time'), Type.Literal('count')], {
        ...d('time'),
        description: "'time': calls of the last windowMs; 'count': the last windowSize calls",
      }),
      windowMs: Type.Integer({ minimum: 1, ...d(10_000), description: 'Time window length (ms)' }),
      windowBuckets: Type.Integer({ minimum: 1, ...d(10), description: 'Slices of a time window' }),
      windowSize: Type.Integer({
        minimum: 1,
        ...d(20),
        description: 'Calls kept by a count window',
      }),
      minimumCalls: Type.Integer({
        minimum: 1,
        ...d(10),
        description: 'Calls the window must hold before the breaker may trip',
      }),
      failureRateThreshold: Type.Number({
        exclusiveMinimum: 0,
        maximum: 100,
        ...d(50),
        description: 'Trip at this failure percentage',
      }),
      slowCallDurationMs: Type.Integer({
        minimum: 1,
        ...d(5000),
        description: 'A call at least this long is slow (ms)',
      }),
      slowCallRateThreshold: Type.Number({
        exclusiveMinimum: 0,
        maximum: 100,
        ...d(80),
        description: 'Trip at this slow-call percentage',
      }),
      resetTimeoutMs: Type.Integer({
        minimum: 1,
        ...d(30_000),
        description: 'Time open before half-open (ms)',
      }),
      halfOpenTrials: Type.Integer({
        minimum: 1,
        ...d(3),
        description: 'Trial calls that must all pass in half-open to close',
      }),
      timeoutMs: Type.Integer({
        minimum: 0,
        ...d(10_000),
        description: 'Per-call deadline (ms); 0 disables',
      }),
      consecutiveTimeouts: Type.Integer({
        minimum: 0,
        ...d(5),
        description:
          'Trip when this many calls in a row timed out (no success between), whatever the window holds; 0 disables',
      }),
      critical: Type.Boolean({
        ...d(false),
        description: 'An open breaker makes its health check unhealthy, not just degraded',
      }),
    },
    { additionalProperties: false, default: {} },
  );
}

const BreakerDefaultsSchema = breakerSchema(true);

const RetryBudgetSchema = Type.Object(
  {
    ratio: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.2,
      description: 'Retries may add at most this share of calls',
    }),
    minRetriesPerSecond: Type.Number({
      minimum: 0,
      default: 10,
      description: 'Retries always allowed per second of window (the floor)',
    }),
    windowMs: Type.Integer({ minimum: 1000, default: 10_000, description: 'Budget window (ms)' }),
  },
  { additionalProperties: false, default: {} },
);

const DbSchema = Type.Object(
  {
    connectionString: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'postgres:// URL; without it there is no fastify.db',
      }),
    ),
    min: Type.Integer({
      minimum: 0,
      default: 2,
      description: 'Idle connections are not closed below this count (opened on demand)',
    }),
    max: Type.Integer({ minimum: 1, default: 20, description: 'Most connections open at once' }),
    connectionTimeoutMillis: Type.Integer({
      minimum: 1,
      default: 10_000,
      description: 'Longest wait for a new connection or a free pooled one (ms)',
    }),
    idleTimeoutMillis: Type.Integer({
      minimum: 0,
      default: 30_000,
      description: 'Idle connections above min close after this (ms)',
    }),
    maxLifetimeSeconds: Type.Integer({
      minimum: 0,
      default: 7200,
      description: 'A connection is replaced after this age (s); 0 disables',
    }),
    statementTimeoutMillis: Type.Integer({
      minimum: 0,
      default: 30_000,
      description: 'Server-side statement_timeout (ms); 0 disables',
    }),
    queryTimeoutMillis: Type.Integer({
      minimum: 0,
      default: 5000,
      description:
        'Client-side deadline of one call, connection wait included (ms), enforced on a silent socket; 0 disables',
    }),
    keepAlive: Type.Boolean({ default: true, description: 'TCP keep-alive on connections' }),
    keepAliveInitialDelayMillis: Type.Integer({
      minimum: 0,
      default: 10_000,
      description: 'Idle time before the first keep-alive probe (ms)',
    }),
    retryAttempts: Type.Integer({
      minimum: 1,
      default: 3,
      description: 'Attempts per query/transaction when a retry is safe',
    }),
    probeIntervalMillis: Type.Integer({
      minimum: 1,
      default: 5000,
      description: 'How often SELECT 1 probes while the postgres breaker is not closed (ms)',
    }),
    critical: Type.Boolean({
      default: true,
      description: 'An open postgres breaker or failing pool makes health unhealthy (not degraded)',
    }),
    breaker: Type.Partial(breakerSchema(false), {
      additionalProperties: false,
      default: {},
      description: 'Overrides of `breaker` for the postgres breaker',
    }),
  },
  { additionalProperties: false, default: {} },
);

const RequestSchema = Type.Object(
  {
    deadlineMs: Type.Integer({
      minimum: 0,
      default: 0,
      description:
        "Budget (ms, from arrival) of the dependency calls made for one request; 0 = Fastify's requestTimeout, none when that is 0 too; a route sets its own with config.deadlineMs",
    }),
  },
  { additionalProperties: false, default: {} },
);

/** Options schema for @bulwark/resilience. Every key carries its default and description. */
export const ResilienceOptionsSchema = Type.Object(
  {
    breaker: BreakerDefaultsSchema,
    retryBudget: RetryBudgetSchema,
    db: DbSchema,
    request: RequestSchema,
  },
  { additionalProperties: false },
);

// `| undefined`: under exactOptionalPropertyTypes, `connectionString: process.env.X` means absent.
type DeepPartial<T> = {
  [K in keyof T]?: (T[K] extends object ? DeepPartial<T[K]> : T[K]) | undefined;
};

/** Options accepted by `fastify.register(resilience, options)`. */
export type ResilienceOptions = DeepPartial<Static<typeof ResilienceOptionsSchema>>;
/** Options after defaults are applied. */
export type ResolvedResilienceOptions = Static<typeof ResilienceOptionsSchema>;
/** Resolved `db` options. */
export type ResolvedDbOptions = ResolvedResilienceOptions['db'];

/** Validates options once, at registration; throws naming the option, the value and the rule. */
export function resolveOptions(input: ResilienceOptions | undefined): ResolvedResilienceOptions {
  const value = Value.Default(ResilienceOptionsSchema, structuredClone(input ?? {}));
  const first = Value.Errors(ResilienceOptionsSchema, value).First();
  if (first) {
    const path = first.path.replaceAll('/', '.').replace(/^\./, '') || '(root)';
    throw new InvalidOptionError(
      `option ${path} ${first.message.toLowerCase()}, got ${JSON.stringify(first.value)}`,
    );
  }
  const resolved = value as ResolvedResilienceOptions;
  if (resolved.db.min > resolved.db.max) {
    throw new InvalidOptionError(
      `option db.min must be ≤ db.max (${resolved.db.max}), got ${resolved.db.min}`,
    );
  }
  return resolved;
}
