import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { InvalidOptionError } from './errors.js';

const Milliseconds = (description: string, defaultValue?: number) =>
  Type.Integer({
    minimum: 1,
    description,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  });

const BuiltinCommon = {
  critical: Type.Boolean({
    default: false,
    description:
      'Whether a failure makes the app unready. Off by default: resource pressure is usually shared by every replica, and unreadying all of them at once turns overload into an outage.',
  }),
  intervalMs: Type.Optional(
    Milliseconds('How often the check runs (ms). @default checkIntervalMs'),
  ),
  timeoutMs: Type.Optional(Milliseconds('How long one run may take (ms). @default checkTimeoutMs')),
};

/** Options schema for @bulwark/health. Every key carries its default and description. */
export const HealthOptionsSchema = Type.Object(
  {
    prefix: Type.String({
      default: '/health',
      pattern: '^/',
      description:
        'Path prefix of the probe routes: `<prefix>`, `<prefix>/live`, `/ready`, `/startup`, `/detailed`.',
    }),
    production: Type.Optional(
      Type.Boolean({
        description:
          'Production mode: 5 s default shutdown delay, and `/detailed` only with a token. @default process.env.NODE_ENV === "production"',
      }),
    ),
    version: Type.Optional(
      Type.String({
        description:
          'Version reported by `GET <prefix>`. @default process.env.npm_package_version ?? "unknown"',
      }),
    ),
    token: Type.Optional(
      Type.String({
        minLength: 16,
        description:
          'Bearer token that `GET <prefix>/detailed` and the ops endpoints require (`Authorization: Bearer <token>`). Without one, they exist only outside production.',
      }),
    ),
    ops: Type.Object(
      {
        enabled: Type.Boolean({
          default: false,
          description:
            'Serve the ops page: `GET <ops.path>` (one self-contained HTML page), its JSON state `GET <ops.path>/state` and `POST <ops.path>/queues/:name/replay`. The endpoints require `token` like `/detailed`; in production without a token they are not served.',
        }),
        path: Type.String({
          default: '/ops',
          pattern: '^/',
          description: 'Path of the ops page; its endpoints live under it.',
        }),
        refreshMs: Type.Integer({
          minimum: 500,
          default: 2_000,
          description: 'How often the open page polls its state endpoint (ms).',
        }),
      },
      {
        default: {},
        additionalProperties: false,
        description:
          'The ops page: checks, breakers, rate limits, shedding, pool and queues at a glance.',
      },
    ),
    checkIntervalMs: Milliseconds('Default interval between two runs of a check (ms).', 5_000),
    checkTimeoutMs: Milliseconds(
      'Default time a check may take before it is failed and aborted (ms). Also the longest a probe waits for a first result.',
      2_000,
    ),
    handleSignals: Type.Boolean({
      default: true,
      description:
        'Install the graceful shutdown: SIGTERM/SIGINT and uncaughtException/unhandledRejection handlers (close-with-grace). Turn off in tests and when another component owns the process.',
    }),
    shutdownDelayMs: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'Time between the signal (readiness turns 503) and `fastify.close()`, so load balancers stop routing here (ms). @default 5000 in production, 0 otherwise',
      }),
    ),
    shutdownTimeoutMs: Milliseconds(
      'Deadline of the whole shutdown sequence, delay included (ms); past it the pending close hooks are logged and the process exits 1.',
      30_000,
    ),
    logLevel: Type.Union(
      [
        Type.Literal('fatal'),
        Type.Literal('error'),
        Type.Literal('warn'),
        Type.Literal('info'),
        Type.Literal('debug'),
        Type.Literal('trace'),
        Type.Literal('silent'),
      ],
      {
        default: 'warn',
        description:
          'Log level of the probe routes, so probes every few seconds do not flood the request log.',
      },
    ),
    checks: Type.Object(
      {
        eventLoopDelay: Type.Optional(
          Type.Object(
            {
              ...BuiltinCommon,
              maxDelayMs: Type.Number({
                exclusiveMinimum: 0,
                default: 1_000,
                description:
                  'Fails when the p99 event loop delay since the last run exceeds this (ms).',
              }),
            },
            { additionalProperties: false },
          ),
        ),
        heap: Type.Optional(
          Type.Object(
            {
              ...BuiltinCommon,
              maxUsedRatio: Type.Number({
                exclusiveMinimum: 0,
                maximum: 1,
                default: 0.9,
                description: 'Fails when used heap / heap size limit exceeds this ratio.',
              }),
            },
            { additionalProperties: false },
          ),
        ),
        rss: Type.Optional(
          Type.Object(
            {
              ...BuiltinCommon,
              maxBytes: Type.Integer({
                minimum: 1,
                description: 'Fails when the resident set size exceeds this many bytes.',
              }),
            },
            { additionalProperties: false },
          ),
        ),
        disk: Type.Optional(
          Type.Object(
            {
              ...BuiltinCommon,
              path: Type.String({
                default: '.',
                minLength: 1,
                description: 'A path on the file system to watch.',
              }),
              minFreeBytes: Type.Optional(
                Type.Integer({ minimum: 0, description: 'Fails when fewer bytes are free.' }),
              ),
              minFreeRatio: Type.Number({
                minimum: 0,
                maximum: 1,
                default: 0.05,
                description: 'Fails when the free fraction of the file system falls below this.',
              }),
            },
            { additionalProperties: false },
          ),
        ),
      },
      {
        default: {},
        additionalProperties: false,
        description: 'Built-in checks, each off until given (an empty object takes its defaults).',
      },
    ),
  },
  { additionalProperties: false },
);

type SchemaOptions = Static<typeof HealthOptionsSchema>;

/** Options accepted by `fastify.register(health, options)`. */
export type HealthOptions = Partial<Omit<SchemaOptions, 'checks' | 'ops'>> & {
  ops?: Partial<SchemaOptions['ops']>;
  checks?: {
    eventLoopDelay?: Partial<NonNullable<SchemaOptions['checks']['eventLoopDelay']>>;
    heap?: Partial<NonNullable<SchemaOptions['checks']['heap']>>;
    rss?: Partial<Omit<NonNullable<SchemaOptions['checks']['rss']>, 'maxBytes'>> & {
      maxBytes: number;
    };
    disk?: Partial<NonNullable<SchemaOptions['checks']['disk']>>;
  };
};

/** Options after defaults are applied. */
export type ResolvedHealthOptions = Omit<
  SchemaOptions,
  'production' | 'version' | 'shutdownDelayMs'
> & {
  production: boolean;
  version: string;
  shutdownDelayMs: number;
};

const renamed: Record<string, string> = {
  path: 'prefix',
  timeout: 'shutdownTimeoutMs',
  delay: 'shutdownDelayMs',
  signals: 'handleSignals',
};

/** Validates options once, at registration; throws naming the option, the value and the rule. */
export function resolveOptions(input: HealthOptions | undefined): ResolvedHealthOptions {
  for (const [old, replacement] of Object.entries(renamed)) {
    if (input && Object.hasOwn(input, old)) {
      throw new InvalidOptionError(`option ${old} is not supported, use ${replacement} instead`);
    }
  }
  const value = Value.Default(HealthOptionsSchema, structuredClone(input ?? {})) as SchemaOptions;
  const first = Value.Errors(HealthOptionsSchema, value).First();
  if (first) {
    const path = first.path.replaceAll('/', '.').replace(/^\./, '') || '(root)';
    throw new InvalidOptionError(
      `option ${path} ${first.message.toLowerCase()}, got ${JSON.stringify(first.value)}`,
    );
  }
  const production = value.production ?? process.env.NODE_ENV === 'production';
  const shutdownDelayMs = value.shutdownDelayMs ?? (production ? 5_000 : 0);
  if (shutdownDelayMs >= value.shutdownTimeoutMs) {
    throw new InvalidOptionError(
      `option shutdownDelayMs must be less than shutdownTimeoutMs (${value.shutdownTimeoutMs}), got ${shutdownDelayMs}; the delay is part of the shutdown deadline`,
    );
  }
  if (value.checkTimeoutMs > value.checkIntervalMs) {
    throw new InvalidOptionError(
      `option checkTimeoutMs must be at most checkIntervalMs (${value.checkIntervalMs}), got ${value.checkTimeoutMs}`,
    );
  }
  const prefix = value.prefix.length > 1 ? value.prefix.replace(/\/+$/, '') : value.prefix;
  return {
    ...value,
    prefix,
    production,
    shutdownDelayMs,
    version: value.version ?? process.env.npm_package_version ?? 'unknown',
  };
}
