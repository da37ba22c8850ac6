import type { Static, TSchema } from '@sinclair/typebox';
import type { Job, Queue, Worker } from 'bullmq';
import type { DeadJob } from './dead-letter.js';
import type { JobDefaultsInput } from './options.js';

/**
 * Payload types by queue name, for `fastify.queues.add(name, data)` and `process(name, handler)`.
 * Augment it once per app:
 *
 * ```ts
 * declare module '@bulwark/queue' {
 *   interface QueueDataMap { emails: Static<typeof EmailJob> }
 * }
 * ```
 * Names not in the map take `unknown`. The handle `define()` returns is typed without it.
 */
// biome-ignore lint/suspicious/noEmptyInterface: augmented by users through declaration merging
export interface QueueDataMap {}

/** The payload type of queue `N`: from `QueueDataMap`, else `unknown`. */
export type QueueData<N extends string> = N extends keyof QueueDataMap ? QueueDataMap[N] : unknown;

/**
 * Handles one attempt of a job. `signal` aborts at the job's deadline (reason:
 * `BULWARK_QUEUE_JOB_TIMEOUT`) or when shutdown's drain time is spent (reason:
 * `BULWARK_QUEUE_JOB_INTERRUPTED`); pass it to every I/O call. The attempt settles at that moment
 * whether or not the handler does.
 */
export type JobHandler<T = unknown, R = unknown> = (
  job: Job<T, R>,
  signal: AbortSignal,
) => Promise<R> | R;

/** Per-job options of `add()`: the job policy (overrides the queue's) and BullMQ scheduling. */
export interface AddOptions extends JobDefaultsInput {
  /** Wait this long (ms) before the job becomes available. @default 0 */
  delay?: number;
  /** BullMQ priority: 1 is highest; unset jobs run before prioritized ones. @default undefined */
  priority?: number;
  /** Custom job id (not an integer, no ":"); adding an existing id is a no-op. @default generated */
  jobId?: string;
  /** Process this job before the others waiting (last in, first out). @default false */
  lifo?: boolean;
}

/** Options of `process()`. */
export interface ProcessOptions {
  /** Jobs this process runs at once for the queue. @default 1 */
  concurrency?: number;
  /** A job's lock lasts this long (ms) and is renewed at half of it while the job runs. @default 30000 */
  lockDurationMs?: number;
  /** How often (ms) this worker looks for jobs whose lock expired (a crashed worker's). @default 30000 */
  stalledIntervalMs?: number;
  /** A job that stalls more often than this fails for good (and is dead-lettered). @default 1 */
  maxStalledCount?: number;
  /** Whether this queue's `queue:<name>:consumer` check is critical. @default the plugin's `consumerCheckCritical` (false) */
  critical?: boolean;
}

/** The second argument of `define()`. */
export interface QueueDefinition<S extends object = object> {
  /** TypeBox or JSON Schema of the payload; `add()` rejects payloads that don't match. @default undefined (any) */
  schema?: S;
  /** Job policy of this queue, over the plugin's `defaults`. @default {} */
  defaults?: JobDefaultsInput;
}

/** Options of `replayDead()` and `dead()`. */
export interface DeadOptions {
  /** At most this many dead jobs, oldest first. @default 100 */
  limit?: number;
}

/** A queue's counts and this process's worker state. */
export interface QueueStats {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
  /** Jobs in the dead-letter queue. */
  dead: number;
  /** Jobs this process is running now. */
  inFlight: number;
  /** This process's worker concurrency; 0 without `process()`. */
  concurrency: number;
}

/** The typed handle `define()` returns. */
export interface DefinedQueue<T = unknown> {
  readonly name: string;
  /** Validates and enqueues; see `fastify.queues.add`. */
  add(data: T, options?: AddOptions): Promise<Job<T>>;
  /** Starts this process's worker; see `fastify.queues.process`. */
  process<R = unknown>(handler: JobHandler<T, R>, options?: ProcessOptions): void;
  /** Re-enqueues dead jobs; see `fastify.queues.replayDead`. */
  replayDead(options?: DeadOptions): Promise<number>;
  /** Lists dead jobs, oldest first. */
  dead(options?: DeadOptions): Promise<DeadJob<T>[]>;
  /** Counts by state (Redis) and this process's worker state. */
  stats(): Promise<QueueStats>;
  /** The BullMQ producer; `undefined` when the plugin is disabled. */
  readonly queue: Queue<T> | undefined;
  /** This process's BullMQ worker, once `process()` was called. */
  readonly worker: Worker<T> | undefined;
}

/** `fastify.queues`. */
export interface Queues {
  /** `false` when registered without `connection`: `add()` throws `BULWARK_QUEUE_DISABLED`. */
  readonly enabled: boolean;
  /** Declares a queue, its payload schema and job policy. Call before `add`/`process`. */
  define<S extends TSchema>(
    name: string,
    definition: QueueDefinition<S> & { schema: S },
  ): DefinedQueue<Static<S>>;
  define<T = unknown>(name: string, definition?: QueueDefinition): DefinedQueue<T>;
  /** The handle of a defined queue. */
  get<N extends string>(name: N): DefinedQueue<QueueData<N>>;
  /** Names of the defined queues. */
  names(): string[];
  /**
   * Validates `data` against the queue's schema (`BULWARK_QUEUE_INVALID_PAYLOAD`, 400, nothing
   * enqueued) and enqueues it within `enqueueTimeoutMs` (`BULWARK_QUEUE_UNAVAILABLE`, 503).
   */
  add<N extends string>(
    name: N,
    data: QueueData<N>,
    options?: AddOptions,
  ): Promise<Job<QueueData<N>>>;
  /** Runs `handler` for the queue's jobs in this process, from `ready` until `close`. */
  process<N extends string, R = unknown>(
    name: N,
    handler: JobHandler<QueueData<N>, R>,
    options?: ProcessOptions,
  ): void;
  /** Moves up to `limit` dead jobs back into the queue (fresh attempts); resolves how many. */
  replayDead(name: string, options?: DeadOptions): Promise<number>;
  /** Lists up to `limit` dead jobs of the queue, oldest first. */
  dead<N extends string>(name: N, options?: DeadOptions): Promise<DeadJob<QueueData<N>>[]>;
  /** Counts by state and this process's worker state. */
  stats(name: string): Promise<QueueStats>;
}
