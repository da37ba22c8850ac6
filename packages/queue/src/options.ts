import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { RedisOptions } from 'ioredis';
import { InvalidOptionError } from './errors.js';

/** Retry delay policy: BullMQ's built-in `exponential` (delay × 2^(attempt-1)) or `fixed`. */
export const BackoffSchema = Type.Object(
  {
    type: Type.Union([Type.Literal('exponential'), Type.Literal('fixed')], {
      default: 'exponential',
      description: 'exponential doubles the delay each retry; fixed keeps it constant',
    }),
    delay: Type.Integer({
      minimum: 0,
      default: 2000,
      description: 'first retry delay, in milliseconds',
    }),
    jitter: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.5,
      description: 'fraction of the delay that is randomised (0 = none, 1 = anywhere in 0..delay)',
    }),
  },
  { additionalProperties: false },
);

/** Job policy: the plugin's `defaults`, a queue's `define(name, { defaults })`, a job's `add` options. */
export const JobDefaultsSchema = Type.Object(
  {
    attempts: Type.Integer({
      minimum: 1,
      default: 3,
      description: 'attempts before a job is dead-lettered (1 = no retry)',
    }),
    backoff: Type.Object(BackoffSchema.properties, {
      additionalProperties: false,
      default: {},
      description: 'delay between attempts',
    }),
    removeOnComplete: Type.Integer({
      minimum: 0,
      default: 100,
      description: 'completed jobs kept in Redis per queue',
    }),
    removeOnFail: Type.Integer({
      minimum: 0,
      default: 500,
      description: 'failed jobs kept in Redis per queue (dead letters are kept apart)',
    }),
    timeoutMs: Type.Integer({
      minimum: 1,
      default: 30_000,
      description:
        'deadline of one attempt, in milliseconds; the signal aborts and the attempt fails',
    }),
  },
  { additionalProperties: false },
);

/** Options schema for @bulwark/queue. Every key carries its default and description. */
export const QueueOptionsSchema = Type.Object(
  {
    connection: Type.Optional(
      Type.Union(
        [Type.String({ pattern: '^rediss?://' }), Type.Object({}, { additionalProperties: true })],
        {
          description:
            'redis:// URL or ioredis options; absent = queues disabled (add throws BULWARK_QUEUE_DISABLED)',
        },
      ),
    ),
    prefix: Type.String({
      minLength: 1,
      default: 'bulwark',
      description: 'Redis key prefix of every queue (BullMQ prefix)',
    }),
    defaults: Type.Object(JobDefaultsSchema.properties, {
      additionalProperties: false,
      default: {},
      description: 'job policy for every queue; define() and add() override per queue and job',
    }),
    enqueueTimeoutMs: Type.Integer({
      minimum: 1,
      default: 2000,
      description:
        'add() fails with BULWARK_QUEUE_UNAVAILABLE when Redis has not accepted the job within this many ms',
    }),
    drainTimeoutMs: Type.Integer({
      minimum: 0,
      default: 10_000,
      description: 'on close, in-flight jobs get this many ms to finish before their signals abort',
    }),
    depthIntervalMs: Type.Integer({
      minimum: 100,
      default: 15_000,
      description: 'how often queue_depth is sampled from Redis (only with fastify.metrics)',
    }),
    consumerLivenessMs: Type.Integer({
      minimum: 1,
      default: 60_000,
      description:
        'a worker with jobs waiting and free slots that starts or finishes nothing for this long is unhealthy',
    }),
    redisCheckCritical: Type.Boolean({
      default: false,
      description:
        'whether the queue:redis health check is critical (false = degraded, still ready)',
    }),
    consumerCheckCritical: Type.Boolean({
      default: false,
      description:
        'whether each queue:<name>:consumer health check is critical (false = degraded, still ready); process() may override it per queue',
    }),
  },
  { additionalProperties: false },
);

/** Retry delay policy. */
export type BackoffOptions = Static<typeof BackoffSchema>;

/** Job policy with every key set. */
export type JobDefaults = Static<typeof JobDefaultsSchema>;

/** Job policy as given: every key optional, `backoff` may be partial. */
export type JobDefaultsInput = Partial<Omit<JobDefaults, 'backoff'>> & {
  /** Delay between attempts. @default { type: 'exponential', delay: 2000, jitter: 0.5 } */
  backoff?: Partial<BackoffOptions>;
};

type SchemaOptions = Static<typeof QueueOptionsSchema>;

/** Options accepted by `fastify.register(queue, options)`. */
export interface QueueOptions {
  /**
   * Redis to use: a `redis://` / `rediss://` URL or ioredis options. When absent the plugin still
   * decorates `fastify.queues`, but disabled: `add()` throws `BULWARK_QUEUE_DISABLED` (503).
   * @default undefined
   */
  connection?: string | RedisOptions | undefined;
  /** Redis key prefix of every queue. @default 'bulwark' */
  prefix?: string;
  /**
   * Job policy for every queue. `define(name, { defaults })` and `add(name, data, options)`
   * override it per queue and per job.
   * @default { attempts: 3, backoff: { type: 'exponential', delay: 2000, jitter: 0.5 }, removeOnComplete: 100, removeOnFail: 500, timeoutMs: 30000 }
   */
  defaults?: JobDefaultsInput;
  /** `add()` gives up with `BULWARK_QUEUE_UNAVAILABLE` after this long (ms). @default 2000 */
  enqueueTimeoutMs?: number;
  /** On close, in-flight jobs get this long (ms) before their signals abort. @default 10000 */
  drainTimeoutMs?: number;
  /** How often `queue_depth` is sampled (ms); only with `fastify.metrics`. @default 15000 */
  depthIntervalMs?: number;
  /**
   * A worker whose queue has waiting jobs, that has free slots and started or finished no job for
   * this long (ms), fails its `queue:<name>:consumer` health check. @default 60000
   */
  consumerLivenessMs?: number;
  /** Whether the `queue:redis` check is critical (false: failure degrades). @default false */
  redisCheckCritical?: boolean;
  /**
   * Whether each `queue:<name>:consumer` check is critical (false: failure degrades). A hung or
   * lost Redis stops every instance's consumers at once, so a critical consumer check would take
   * the whole fleet out of rotation. `process(name, handler, { critical })` overrides it.
   * @default false
   */
  consumerCheckCritical?: boolean;
}

/** Options after defaults are applied. */
export type ResolvedQueueOptions = Omit<SchemaOptions, 'connection' | 'defaults'> & {
  connection: string | RedisOptions | undefined;
  defaults: JobDefaults;
};

function check<T>(schema: Parameters<typeof Value.Errors>[0], value: unknown, where: string): T {
  const first = Value.Errors(schema, value).First();
  if (first) {
    const path = first.path.replaceAll('/', '.').replace(/^\./, '');
    const name = [where, path].filter(Boolean).join('.') || '(root)';
    throw new InvalidOptionError(
      `option ${name} ${first.message.toLowerCase()}, got ${JSON.stringify(first.value)}`,
    );
  }
  return value as T;
}

/** Validates options once, at registration; throws naming the option, the value and the rule. */
export function resolveOptions(input: QueueOptions | undefined): ResolvedQueueOptions {
  // ioredis options may hold functions (retryStrategy) and buffers (tls): validate the
  // connection by reference and clone only the rest.
  const { connection, ...rest } = input ?? {};
  const value = Value.Default(QueueOptionsSchema, structuredClone(rest)) as Record<string, unknown>;
  check(QueueOptionsSchema, value, '');
  if (connection !== undefined) {
    const connectionSchema = QueueOptionsSchema.properties.connection;
    if (!Value.Check(connectionSchema, connection)) {
      throw new InvalidOptionError(
        `option connection must be a redis:// or rediss:// URL or an ioredis options object, got ${
          typeof connection === 'string' ? JSON.stringify(connection) : typeof connection
        }`,
      );
    }
  }
  return { ...value, connection } as ResolvedQueueOptions;
}

const PartialDefaultsSchema = Type.Partial(
  Type.Object({
    ...JobDefaultsSchema.properties,
    backoff: Type.Partial(BackoffSchema),
  }),
  { additionalProperties: false },
);

/** Checks a partial job policy (a queue's or a job's) and merges it over `base`. */
export function mergeJobDefaults(
  base: JobDefaults,
  input: JobDefaultsInput | undefined,
  where: string,
): JobDefaults {
  if (input === undefined) return base;
  check(PartialDefaultsSchema, input, where);
  return {
    attempts: input.attempts ?? base.attempts,
    backoff: { ...base.backoff, ...input.backoff },
    removeOnComplete: input.removeOnComplete ?? base.removeOnComplete,
    removeOnFail: input.removeOnFail ?? base.removeOnFail,
    timeoutMs: input.timeoutMs ?? base.timeoutMs,
  };
}
