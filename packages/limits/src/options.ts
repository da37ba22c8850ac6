import { type Static, type TProperties, type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyRequest } from 'fastify';
import type { HelmetOptions } from 'helmet';
import { InvalidOptionError } from './errors.js';
import type { RedisClientLike } from './redis-store.js';

/** Reads an identifier (tenant, user, account) from a request; `undefined`/`null` skips the tier. */
export type KeyExtractor = (request: FastifyRequest) => string | number | undefined | null;

const extractor = (description: string) =>
  Type.Optional(
    Type.Unsafe<KeyExtractor>(Type.Function([Type.Any()], Type.Any(), { description })),
  );

const tier = <E extends TProperties>(
  name: string,
  max: number,
  windowMs: number,
  everyRoute: boolean,
  extra: E = {} as E,
) =>
  Type.Object(
    {
      max: Type.Integer({
        minimum: 1,
        default: max,
        description: `Requests a client may make per window on the ${name} tier (also the burst size).`,
      }),
      windowMs: Type.Integer({
        minimum: 1000,
        default: windowMs,
        description: `The ${name} tier's window, in milliseconds.`,
      }),
      everyRoute: Type.Boolean({
        default: everyRoute,
        description: `Apply the ${name} tier to every route unless its config says \`false\`; when false, only routes that opt in.`,
      }),
      ...extra,
    },
    { additionalProperties: false, default: {} },
  );

/** A login tier on routes with the auth tier: `false` turns it off. Keyed from `auth.key` and the IP. */
const loginTier = (what: string, max: number, note: string) =>
  Type.Union(
    [
      Type.Literal(false),
      Type.Object(
        {
          max: Type.Integer({
            minimum: 1,
            default: max,
            description: `Login attempts per window per ${what}.`,
          }),
          windowMs: Type.Integer({
            minimum: 1000,
            default: 900_000,
            description: 'The window, in milliseconds.',
          }),
        },
        { additionalProperties: false },
      ),
    ],
    {
      default: {},
      description: `Login attempts per ${what}, on routes with the auth tier, or false for none. ${note}`,
    },
  );

/** Options schema for @bulwark/limits. Every key carries its default and description. */
export const LimitsOptionsSchema = Type.Object(
  {
    store: Type.Union([Type.Literal('auto'), Type.Literal('memory'), Type.Literal('redis')], {
      default: 'auto',
      description:
        "Where rate-limit state lives. 'auto': Redis when `redis` is given or `fastify.redis` (@fastify/redis) exists, else memory.",
    }),
    redis: Type.Optional(
      Type.Unsafe<string | RedisClientLike>(
        Type.Union([Type.String(), Type.Object({})], {
          description:
            'A redis:// URL or an ioredis client. A client is duplicated (one extra connection, owned and closed by this plugin) so its settings cannot stall requests.',
        }),
      ),
    ),
    storeTimeoutMs: Type.Integer({
      minimum: 1,
      default: 50,
      description:
        'Deadline for one Redis decision, in ms; past it (or on an error or disconnect) the request is decided by the per-process fallback.',
    }),
    recoveryIntervalMs: Type.Integer({
      minimum: 10,
      default: 1000,
      description: 'While in fallback, how often Redis is probed to resume shared limiting, in ms.',
    }),
    hashTag: Type.String({
      default: '',
      pattern: '^[^{}]*$',
      description:
        'Redis Cluster: every key gets this hash tag (`{tag}`), so the keys of one request share a hash slot and one script decides them; required with an ioredis Cluster. All rate-limit keys then live on one master.',
    }),
    keyPrefix: Type.String({
      default: 'bulwark:rl:',
      description: 'Prefix of every Redis key this plugin writes.',
    }),
    maxKeys: Type.Integer({
      minimum: 1,
      default: 100_000,
      description: 'Most keys the in-memory limiter (memory store or fallback) keeps, per process.',
    }),
    legacyHeaders: Type.Boolean({
      default: false,
      description: 'Also send X-RateLimit-Limit / -Remaining / -Reset for the tightest tier.',
    }),
    global: tier('global (per client IP)', 1000, 60_000, true),
    tenant: tier('tenant', 1000, 60_000, true, {
      key: extractor(
        'Reads the tenant id from a request; the tier is skipped when it returns nothing.',
      ),
    }),
    user: tier('user', 60, 60_000, true, {
      key: extractor(
        'Reads the user id from a request; the tier is skipped when it returns nothing.',
      ),
    }),
    auth: tier('auth (per IP + account)', 5, 900_000, false, {
      key: extractor(
        'Reads the account identifier (e.g. the login name in the body); the key is IP + account.',
      ),
    }),
    authAccount: loginTier(
      'account, across all IPs',
      10,
      'An attacker spreading guesses for one account over many IPs gets at most this many per window in total. Note: it lets anyone lock an account out of logging in for a window by failing on purpose; raise it, or set false, if that matters more.',
    ),
    authIp: loginTier(
      'client IP, across all accounts',
      30,
      'One IP trying one password against many accounts gets at most this many attempts per window in total. Set false, or raise it, for login traffic from large shared NATs.',
    ),
    securityHeaders: Type.Union(
      [
        Type.Literal(false),
        Type.Object(
          {
            hsts: Type.Optional(
              Type.Boolean({
                description:
                  "Send Strict-Transport-Security. @default process.env.NODE_ENV === 'production'",
              }),
            ),
            helmet: Type.Optional(
              Type.Unsafe<HelmetOptions>(
                Type.Object(
                  {},
                  { description: 'helmet options merged over the JSON-API defaults.' },
                ),
              ),
            ),
          },
          { additionalProperties: false },
        ),
      ],
      {
        default: {},
        description: 'Security headers (helmet) with JSON-API defaults, or false to send none.',
      },
    ),
    shedding: Type.Union(
      [
        Type.Literal(false),
        Type.Object(
          {
            initialLimit: Type.Integer({
              minimum: 1,
              default: 100,
              description: 'Concurrency limit (in-flight requests) to start from.',
            }),
            minLimit: Type.Integer({
              minimum: 1,
              default: 1,
              description: 'The adaptive limit never goes below this.',
            }),
            maxLimit: Type.Integer({
              minimum: 1,
              default: 1000,
              description: 'The adaptive limit never goes above this.',
            }),
            tolerance: Type.Number({
              minimum: 1,
              default: 2,
              description:
                'How far latency may rise over its baseline (ratio) before the limit falls.',
            }),
            latencyFloorMs: Type.Number({
              minimum: 0,
              default: 3,
              description:
                'Average in-process latency (ms: service time plus the wait behind admitted requests of the same event-loop batch) that never counts as overload, however fast the baseline. Queueing of a few ms is not shed; past it, admitted requests are kept near it.',
            }),
            retryAfterSeconds: Type.Integer({
              minimum: 0,
              default: 1,
              description: 'Retry-After sent with a 503 from shedding, in seconds.',
            }),
            maxEventLoopDelayMs: Type.Number({
              minimum: 0,
              default: 1000,
              description:
                'Shed all but critical requests past this event-loop delay (p99 over the sample interval), in ms; 0 disables.',
            }),
            maxEventLoopUtilization: Type.Number({
              minimum: 0,
              maximum: 1,
              default: 0,
              description:
                'Shed all but critical requests past this event-loop utilization (0..1); 0 disables. Off by default: a busy, healthy server sits near 1.',
            }),
            maxHeapUsedBytes: Type.Integer({
              minimum: 0,
              default: 0,
              description:
                'Shed all but critical requests past this heap use, in bytes; 0 disables.',
            }),
            sampleIntervalMs: Type.Integer({
              minimum: 10,
              default: 500,
              description: 'How often the backstops (event loop, heap) are sampled, in ms.',
            }),
          },
          { additionalProperties: false },
        ),
      ],
      {
        default: {},
        description: 'Adaptive load shedding, or false to turn it off.',
      },
    ),
  },
  { additionalProperties: false },
);

type Schema = Static<typeof LimitsOptionsSchema>;
type DeepPartial<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends object
    ? // `| undefined`: under exactOptionalPropertyTypes, `redis: process.env.REDIS_URL` means absent
      { [K in keyof T]?: DeepPartial<T[K]> | undefined }
    : T;

/** Options accepted by `fastify.register(limits, options)`. */
export type LimitsOptions = DeepPartial<Schema>;
/** Options after defaults are applied. */
export type ResolvedLimitsOptions = Schema;
/** One tier's resolved options. */
export interface TierOptions {
  max: number;
  windowMs: number;
  everyRoute: boolean;
  key?: KeyExtractor;
}
/** Resolved shedding options. */
export type SheddingOptions = Exclude<Schema['shedding'], false>;

// Copies plain objects and arrays; keeps functions, clients and class instances by reference
// (structuredClone would throw on a function or an ioredis client).
function copy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copy);
  if (
    value !== null &&
    typeof value === 'object' &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)]));
  }
  return value;
}

function fail(path: string, message: string, value: unknown): never {
  const shown = typeof value === 'function' ? 'a function' : JSON.stringify(value);
  throw new InvalidOptionError(`option ${path} ${message}, got ${shown}`);
}

/** Validates options once, at registration; throws naming the option, the value and the rule. */
export function resolveOptions(input: LimitsOptions | undefined): ResolvedLimitsOptions {
  // The client is kept out of TypeBox's hands: Value.Default clones what it walks, and an ioredis
  // Cluster cannot be cloned. It is checked by hand below.
  const { redis: client, ...rest } = (input ?? {}) as LimitsOptions & { redis?: unknown };
  const value = Value.Default(LimitsOptionsSchema, copy(rest)) as Schema;
  const first = Value.Errors(LimitsOptionsSchema as TSchema, value).First();
  if (first) {
    const path = first.path.replaceAll('/', '.').replace(/^\./, '') || '(root)';
    fail(path, first.message.toLowerCase(), first.value);
  }
  if (client !== undefined) value.redis = client as Schema['redis'];
  const redis = value.redis as unknown;
  if (
    redis !== undefined &&
    typeof redis !== 'string' &&
    typeof (redis as { evalsha?: unknown }).evalsha !== 'function'
  ) {
    fail('redis', 'must be a redis:// URL or an ioredis client', redis);
  }
  if ((redis as { isCluster?: unknown } | undefined)?.isCluster === true && value.hashTag === '') {
    fail(
      'hashTag',
      "must be set with a Redis Cluster client (the keys of one request must share a hash slot), e.g. hashTag: 'rl'",
      value.hashTag,
    );
  }
  if (value.store === 'redis' && redis === undefined) {
    // The plugin checks fastify.redis at registration; nothing more to validate here.
  }
  if (value.shedding !== false && value.shedding.minLimit > value.shedding.maxLimit) {
    fail(
      'shedding.minLimit',
      `must be ≤ shedding.maxLimit (${value.shedding.maxLimit})`,
      value.shedding.minLimit,
    );
  }
  return value;
}
