import { type Job, type JobsOptions, Queue } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import {
  closeRedis,
  createProducerConnection,
  isConnectionError,
  throttledErrorLogger,
} from './connections.js';
import {
  type DeadJob,
  deadLetterQueueName,
  readDead,
  reconcileDeadLetters,
  replayDeadJob,
} from './dead-letter.js';
import { settlesWithin } from './deadline.js';
import { type DepthSampler, startDepthSampler } from './depth-sampler.js';
import {
  DisabledError,
  InvalidDefinitionError,
  InvalidPayloadError,
  UnavailableError,
  UnknownQueueError,
} from './errors.js';
import { type JobDefaults, mergeJobDefaults, type ResolvedQueueOptions } from './options.js';
import { compilePayloadValidator, type PayloadValidator } from './payload-validator.js';
import type { DeadlineSource } from './request-deadline.js';
import type { HealthLike, QueueMetrics } from './telemetry.js';
import type {
  AddOptions,
  DeadOptions,
  DefinedQueue,
  JobHandler,
  ProcessOptions,
  QueueDefinition,
  QueueStats,
} from './types.js';
import { JOB_TIMEOUT_KEY, WorkerRunner } from './worker-runner.js';

interface Definition {
  name: string;
  validate: PayloadValidator;
  defaults: JobDefaults;
  /** BullMQ options for a job added without options: computed once. */
  jobOptions: JobsOptions;
  queue: Queue | undefined;
  dead: Queue | undefined;
  runner: WorkerRunner<unknown, unknown> | undefined;
  handle: DefinedQueue<unknown>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
/** Seconds a client should wait before retrying after BULWARK_QUEUE_UNAVAILABLE. */
const RETRY_AFTER_SECONDS = '5';

function toBullOptions(defaults: JobDefaults): JobsOptions {
  return {
    attempts: defaults.attempts,
    backoff: { ...defaults.backoff },
    // BullMQ reads a number as "keep the last N"; 0 would read as "keep all".
    removeOnComplete: defaults.removeOnComplete === 0 ? true : defaults.removeOnComplete,
    removeOnFail: defaults.removeOnFail === 0 ? true : defaults.removeOnFail,
  };
}

function unavailable(cause?: unknown): Error {
  const error = cause === undefined ? new UnavailableError() : new UnavailableError({ cause });
  // Fastify's error path copies error.headers to the reply: 503 with Retry-After.
  return Object.assign(error, { headers: { 'retry-after': RETRY_AFTER_SECONDS } });
}

/** The state behind `fastify.queues`. */
export class QueueManager {
  readonly enabled: boolean;
  private readonly options: ResolvedQueueOptions;
  private readonly log: FastifyBaseLogger;
  private readonly metrics: QueueMetrics;
  private readonly health: HealthLike | undefined;
  private readonly logError: (source: string, error: Error) => void;
  private readonly producer: Redis | undefined;
  private readonly definitions = new Map<string, Definition>();
  private ready = false;
  private closing = false;
  private sampler: DepthSampler | undefined;
  private warnedDisabled = false;

  constructor(
    options: ResolvedQueueOptions,
    log: FastifyBaseLogger,
    metrics: QueueMetrics,
    health: HealthLike | undefined,
    private readonly deadlines?: DeadlineSource,
  ) {
    this.options = options;
    this.log = log;
    this.metrics = metrics;
    this.health = health;
    this.logError = throttledErrorLogger(log);
    this.enabled = options.connection !== undefined;
    if (options.connection !== undefined) {
      this.producer = createProducerConnection(options.connection);
      this.registerRedisCheck(this.producer);
    }
  }

  define<T = unknown>(name: string, definition: QueueDefinition = {}): DefinedQueue<T> {
    if (typeof name !== 'string' || !NAME.test(name) || name.endsWith('.dead')) {
      throw new InvalidDefinitionError(
        `queue name must be 1-100 letters, digits, "_", "-" or "." (not ending in ".dead"), got ${JSON.stringify(name)}`,
      );
    }
    if (this.definitions.has(name)) {
      throw new InvalidDefinitionError(`queue "${name}" is already defined`);
    }
    const defaults = mergeJobDefaults(
      this.options.defaults,
      definition.defaults,
      `define("${name}").defaults`,
    );
    const validate = compilePayloadValidator(name, definition.schema);
    const definitionState: Definition = {
      name,
      validate,
      defaults,
      jobOptions: toBullOptions(defaults),
      queue: undefined,
      dead: undefined,
      runner: undefined,
      handle: this.createHandle(name),
    };
    if (this.producer) {
      definitionState.queue = this.createQueue(name);
      definitionState.dead = this.createQueue(deadLetterQueueName(name));
    }
    this.definitions.set(name, definitionState);
    return definitionState.handle as DefinedQueue<T>;
  }

  get(name: string): DefinedQueue<unknown> {
    return this.lookup(name).handle;
  }

  names(): string[] {
    return [...this.definitions.keys()];
  }

  async add(name: string, data: unknown, options?: AddOptions): Promise<Job<unknown>> {
    const definition = this.lookup(name);
    const problem = definition.validate(data);
    if (problem !== undefined) throw new InvalidPayloadError(name, problem);
    const queue = definition.queue;
    if (!queue) throw new DisabledError();
    if (this.closing) throw unavailable();
    const jobOptions = options ? this.jobOptions(definition, options) : definition.jobOptions;
    return this.bounded(queue.add(name, data, jobOptions));
  }

  process(name: string, handler: JobHandler<unknown, unknown>, options?: ProcessOptions): void {
    const definition = this.lookup(name);
    if (options?.critical !== undefined && typeof options.critical !== 'boolean') {
      throw new InvalidDefinitionError(
        `process("${name}") option critical must be a boolean, got ${JSON.stringify(options.critical)}`,
      );
    }
    if (definition.runner) {
      throw new InvalidDefinitionError(`queue "${name}" already has a worker in this process`);
    }
    if (!this.producer || !definition.dead || !definition.queue) {
      if (!this.warnedDisabled) {
        this.warnedDisabled = true;
        this.log.warn(
          { queue: name },
          '@bulwark/queue is disabled (no connection): workers are not started',
        );
      }
      return;
    }
    const runner = new WorkerRunner<unknown, unknown>(
      {
        queueName: name,
        prefix: this.options.prefix,
        connection: this.options.connection as NonNullable<ResolvedQueueOptions['connection']>,
        timeoutMs: definition.defaults.timeoutMs,
        livenessMs: this.options.consumerLivenessMs,
        metrics: this.metrics,
        log: this.log,
        logError: this.logError,
        dead: definition.dead,
      },
      handler,
      options,
    );
    definition.runner = runner;
    const queue = definition.queue;
    this.health?.register({
      name: `queue:${name}:consumer`,
      critical: options?.critical ?? this.options.consumerCheckCritical,
      tags: ['queue'],
      timeoutMs: 2000,
      // A consumer cannot work while Redis is down, and restarting it would not help: that outage
      // belongs to `queue:redis` (non-critical by default), so this check stands aside meanwhile
      // instead of turning the whole service unready.
      check: async () => {
        if (this.redisDown()) return { skipped: 'Redis unreachable: see queue:redis' };
        try {
          return await runner.liveness(queue);
        } catch (error) {
          if (this.redisDown() || isConnectionError(error as Error)) {
            return { skipped: 'Redis unreachable: see queue:redis' };
          }
          throw error;
        }
      },
    });
    if (this.ready && !this.closing) runner.start();
  }

  async replayDead(name: string, options: DeadOptions = {}): Promise<number> {
    const definition = this.lookup(name);
    const { queue, dead } = this.enabledQueues(definition);
    const entries = await this.bounded(readDead(dead, this.limit(options)));
    if (entries.length === 0) return 0;
    // WATCH needs a connection of its own: a short-lived one for this replay (an admin action).
    const connection = createProducerConnection(
      this.options.connection as NonNullable<ResolvedQueueOptions['connection']>,
    );
    const live = new Queue(queue.name, { connection, prefix: this.options.prefix });
    live.on('error', (error: Error) => this.logError(`queue ${name} (replay)`, error));
    let replayed = 0;
    try {
      await this.bounded(live.waitUntilReady());
      for (const entry of entries) {
        const jobId = await this.bounded(replayDeadJob(live, dead, entry, definition.jobOptions));
        if (jobId !== undefined) replayed += 1;
      }
    } finally {
      if (replayed > 0) this.log.info({ queue: name, replayed }, 'dead jobs replayed');
      await settlesWithin(live.close(), 1000);
      await closeRedis(connection, 1000);
    }
    return replayed;
  }

  async dead(name: string, options: DeadOptions = {}): Promise<DeadJob<unknown>[]> {
    const { dead } = this.enabledQueues(this.lookup(name));
    const jobs = await this.bounded(readDead(dead, this.limit(options)));
    return jobs.map((job) => job.data);
  }

  async stats(name: string): Promise<QueueStats> {
    const definition = this.lookup(name);
    const { queue, dead } = this.enabledQueues(definition);
    const [counts, deadCount] = await this.bounded(
      Promise.all([
        queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'),
        dead.getWaitingCount(),
      ]),
    );
    return {
      waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed: counts.failed ?? 0,
      completed: counts.completed ?? 0,
      dead: deadCount,
      inFlight: definition.runner?.inFlight.size ?? 0,
      concurrency: definition.runner?.concurrency ?? 0,
    };
  }

  /** Called from onReady: workers start taking jobs, the depth sampler starts. */
  start(): void {
    this.ready = true;
    for (const definition of this.definitions.values()) {
      if (!definition.runner) continue;
      definition.runner.start();
      // Dead jobs whose copy a previous process never made (it died first): copied now.
      const { queue, dead } = this.enabledQueues(definition);
      this.bounded(reconcileDeadLetters(queue, dead)).then(
        (copied) => {
          if (copied > 0) {
            this.log.warn(
              { queue: queue.name, copied },
              'dead-lettered failed jobs a previous process had not copied',
            );
          }
        },
        (error: Error) => this.logError(`queue ${queue.name} (dead-letter reconciliation)`, error),
      );
    }
    if (this.metrics.enabled && this.producer) {
      this.sampler = startDepthSampler(
        () => [...this.definitions.values()],
        this.metrics,
        this.options.depthIntervalMs,
        this.logError,
      );
    }
  }

  /** Called from onClose: drain workers (bounded), then close producers. */
  async close(): Promise<void> {
    this.closing = true;
    this.sampler?.stop();
    const definitions = [...this.definitions.values()];
    await Promise.all(
      definitions.map((definition) => definition.runner?.close(this.options.drainTimeoutMs)),
    );
    await Promise.all(
      definitions
        .flatMap((definition) => [definition.queue, definition.dead])
        .map((queue) => (queue ? settlesWithin(queue.close(), 1000) : undefined)),
    );
    if (this.producer) await closeRedis(this.producer, 1000);
  }

  private createQueue(name: string): Queue {
    const queue = new Queue(name, {
      connection: this.producer as Redis,
      prefix: this.options.prefix,
    });
    queue.on('error', (error: Error) => this.logError(`queue ${name}`, error));
    return queue;
  }

  private createHandle(name: string): DefinedQueue<unknown> {
    const manager = this;
    return {
      name,
      add: (data, options) => manager.add(name, data, options),
      process: (handler, options) =>
        manager.process(name, handler as JobHandler<unknown, unknown>, options),
      replayDead: (options) => manager.replayDead(name, options),
      dead: (options) => manager.dead(name, options),
      stats: () => manager.stats(name),
      get queue() {
        return manager.definitions.get(name)?.queue;
      },
      get worker() {
        return manager.definitions.get(name)?.runner?.worker;
      },
    };
  }

  private lookup(name: string): Definition {
    const definition = this.definitions.get(name);
    if (!definition) throw new UnknownQueueError(String(name));
    return definition;
  }

  private enabledQueues(definition: Definition): { queue: Queue; dead: Queue } {
    if (!definition.queue || !definition.dead) throw new DisabledError();
    if (this.closing) throw unavailable();
    return { queue: definition.queue, dead: definition.dead };
  }

  private limit(options: DeadOptions): number {
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new InvalidDefinitionError(
        `limit must be an integer ≥ 1, got ${JSON.stringify(limit)}`,
      );
    }
    return limit;
  }

  private jobOptions(definition: Definition, options: AddOptions): JobsOptions {
    const { delay, priority, jobId, lifo, ...policy } = options;
    const merged = mergeJobDefaults(
      definition.defaults,
      policy,
      `add("${definition.name}") option`,
    );
    const jobOptions = toBullOptions(merged) as JobsOptions & Record<string, unknown>;
    if (delay !== undefined) jobOptions.delay = delay;
    if (priority !== undefined) jobOptions.priority = priority;
    if (jobId !== undefined) jobOptions.jobId = jobId;
    if (lifo !== undefined) jobOptions.lifo = lifo;
    if (policy.timeoutMs !== undefined) jobOptions[JOB_TIMEOUT_KEY] = merged.timeoutMs;
    return jobOptions;
  }

  /**
   * Bounds a Redis operation by `enqueueTimeoutMs`, or by what is left of the request's deadline
   * when that is nearer (and by its signal: a gone client stops the wait). Connection failures,
   * Redis error replies and the timeout become BULWARK_QUEUE_UNAVAILABLE; other errors (a bad
   * job id, …) pass through. The command itself cannot be recalled: it may still land.
   */
  private bounded<T>(operation: Promise<T>): Promise<T> {
    const producer = this.producer;
    const request = this.deadlines?.();
    const ms = Math.min(this.options.enqueueTimeoutMs, request?.remainingMs() ?? Infinity);
    const signal = request?.signal;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal?.reason);
      const timer = setTimeout(
        () => {
          signal?.removeEventListener('abort', onAbort);
          reject(unavailable(new Error(`Redis did not answer within ${Math.round(ms)} ms`)));
        },
        Math.max(0, ms),
      );
      timer.unref();
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      operation.then(
        (value) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: Error) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const outage = producer?.status !== 'ready' || isConnectionError(error);
          reject(outage ? unavailable(error) : error);
        },
      );
    });
  }

  /** The producer lost its connection and is trying to get it back. */
  private redisDown(): boolean {
    const status = this.producer?.status;
    return status === 'reconnecting' || status === 'close' || status === 'end';
  }

  private registerRedisCheck(producer: Redis): void {
    this.health?.register({
      name: 'queue:redis',
      critical: this.options.redisCheckCritical,
      tags: ['queue'],
      timeoutMs: 2000,
      check: async () => {
        if (producer.status !== 'ready') {
          throw new Error(`Redis unreachable: connection is ${producer.status}`);
        }
        const started = performance.now();
        await producer.ping().catch((error: Error) => {
          throw new Error(`Redis unreachable: ${error.message}`);
        });
        return { latencyMs: Math.round((performance.now() - started) * 10) / 10 };
      },
    });
  }
}
