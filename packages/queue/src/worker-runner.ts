import { type Job, type Queue, WaitingError, Worker } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import type { RedisOptions } from 'ioredis';
import { closeRedis, createWorkerConnection } from './connections.js';
import { copyToDeadLetter } from './dead-letter.js';
import { DeadlineAttempt, settlesWithin } from './deadline.js';
import { InvalidDefinitionError, JobInterruptedError, JobTimeoutError } from './errors.js';
import type { QueueMetrics } from './telemetry.js';
import type { JobHandler, ProcessOptions } from './types.js';

/** What a worker needs from the plugin. */
export interface WorkerContext {
  queueName: string;
  prefix: string;
  connection: string | RedisOptions;
  /** The queue's deadline when a job carries none of its own. */
  timeoutMs: number;
  livenessMs: number;
  metrics: QueueMetrics;
  log: FastifyBaseLogger;
  logError: (source: string, error: Error) => void;
  dead: Queue;
}

/** The key under which a per-job deadline travels in BullMQ's job options. */
export const JOB_TIMEOUT_KEY = 'bulwarkTimeoutMs';

function positiveInteger(value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidDefinitionError(
      `${what} must be an integer ≥ 1, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * One BullMQ worker for one queue in this process, with real deadlines, dead-lettering,
 * liveness tracking and a bounded drain.
 */
export class WorkerRunner<T = unknown, R = unknown> {
  readonly worker: Worker<T, R>;
  readonly concurrency: number;
  /** The attempts running now, by job id. */
  readonly inFlight = new Map<string, DeadlineAttempt<R>>();
  /** Last time this worker started or finished an attempt, or had nothing to do. */
  lastActivityAt = Date.now();
  private readonly context: WorkerContext;
  private readonly handler: JobHandler<T, R>;
  private readonly redis;
  private running: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(context: WorkerContext, handler: JobHandler<T, R>, options: ProcessOptions = {}) {
    if (typeof handler !== 'function') {
      throw new InvalidDefinitionError(
        `process("${context.queueName}") needs a handler function, got ${typeof handler}`,
      );
    }
    const where = `process("${context.queueName}") option`;
    this.concurrency = positiveInteger(options.concurrency, `${where} concurrency`, 1);
    const lockDuration = positiveInteger(options.lockDurationMs, `${where} lockDurationMs`, 30_000);
    const stalledInterval = positiveInteger(
      options.stalledIntervalMs,
      `${where} stalledIntervalMs`,
      30_000,
    );
    const maxStalledCount =
      options.maxStalledCount === undefined
        ? 1
        : positiveInteger(options.maxStalledCount + 1, `${where} maxStalledCount + 1`, 1) - 1;
    this.context = context;
    this.handler = handler;
    this.redis = createWorkerConnection(context.connection);
    // Two parameters on purpose: BullMQ creates its own AbortController per job only for
    // processors declaring a third; ours owns the signal (deadline and drain).
    const processor = (job: Job<T, R>, token?: string) => this.runAttempt(job, token);
    this.worker = new Worker<T, R>(context.queueName, processor, {
      connection: this.redis,
      prefix: context.prefix,
      concurrency: this.concurrency,
      lockDuration,
      stalledInterval,
      maxStalledCount,
      autorun: false,
    });
    this.listen();
  }

  /** Starts taking jobs; idempotent. */
  start(): void {
    if (this.running || this.closing) return;
    this.lastActivityAt = Date.now();
    this.running = this.worker.run().catch((error: Error) => {
      this.context.logError(`worker ${this.context.queueName}`, error);
    });
  }

  private async runAttempt(job: Job<T, R>, token: string | undefined): Promise<R> {
    const { queueName, metrics } = this.context;
    const id = String(job.id);
    const started = performance.now();
    this.lastActivityAt = Date.now();
    if (metrics.enabled && job.attemptsMade === 0 && job.attemptsStarted <= 1) {
      const availableAt = job.timestamp + (job.opts.delay ?? 0);
      metrics.wait(queueName, Math.max(0, (job.processedOn ?? Date.now()) - availableAt) / 1000);
    }
    const ownTimeout = (job.opts as Record<string, unknown>)[JOB_TIMEOUT_KEY];
    const timeoutMs = ownTimeout === undefined ? this.context.timeoutMs : Number(ownTimeout);
    const attempt = new DeadlineAttempt<R>(
      (signal) => this.handler(job, signal),
      timeoutMs,
      () => new JobTimeoutError(id, queueName, timeoutMs),
    );
    this.inFlight.set(id, attempt);
    try {
      return await attempt.result;
    } catch (error) {
      if (error instanceof JobInterruptedError && attempt.abortedWith(error)) {
        // Shutdown: hand the job back to the wait list without spending an attempt. If Redis
        // can't be reached, it stays active and stalled-job recovery re-queues it once its lock
        // expires. Either way BullMQ must not record a failure, hence WaitingError.
        await settlesWithin(job.moveToWait(token), 1000);
        throw new WaitingError();
      }
      throw error;
    } finally {
      this.inFlight.delete(id);
      this.lastActivityAt = Date.now();
      metrics.duration(queueName, (performance.now() - started) / 1000);
    }
  }

  private listen(): void {
    const { queueName: queue, metrics, log, logError, dead } = this.context;
    const debugEnabled = () =>
      (log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.('debug') ?? true;
    this.worker.on('completed', (job) => {
      metrics.outcome(queue, 'completed');
      // Hot path: skip building the log object when debug is off (pino knows its level).
      if (!debugEnabled()) return;
      log.debug(
        { queue, jobId: job.id, jobName: job.name, attempt: job.attemptsStarted },
        'job completed',
      );
    });
    this.worker.on('failed', (job, error) => {
      if (error instanceof JobTimeoutError) metrics.timeout(queue);
      const fields = {
        queue,
        jobId: job?.id,
        jobName: job?.name,
        attempt: job?.attemptsMade,
        err: error,
      };
      // BullMQ sets finishedOn only when the job moved to failed for good.
      const final = job === undefined || job.finishedOn !== undefined;
      if (!final) {
        metrics.outcome(queue, 'retried');
        log.warn(fields, `job attempt failed, will retry: ${error.message}`);
        return;
      }
      metrics.outcome(queue, 'failed');
      log.warn(fields, `job failed for good, dead-lettering: ${error.message}`);
      if (!job) return;
      copyToDeadLetter(dead, job as Job, error).then(
        () => metrics.deadLettered(queue),
        (copyError: Error) =>
          log.error(
            { queue, jobId: job.id, err: copyError },
            'could not copy the job to the dead-letter queue; it stays in the failed set',
          ),
      );
    });
    this.worker.on('stalled', (jobId) => {
      log.warn({ queue, jobId }, 'job stalled (its worker stopped renewing the lock); re-queued');
    });
    this.worker.on('error', (error) => logError(`worker ${queue}`, error));
  }

  /**
   * Liveness: throws when the queue has waiting jobs, this worker has free slots, and it started
   * or finished nothing for longer than `livenessMs` (e.g. its blocking connection hung after a
   * Redis failover, or it was paused).
   */
  async liveness(queue: Queue): Promise<Record<string, number>> {
    const counts = await queue.getJobCounts('waiting', 'prioritized');
    const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
    const inFlight = this.inFlight.size;
    const now = Date.now();
    const details = { waiting, inFlight, concurrency: this.concurrency };
    if (waiting === 0 || inFlight >= this.concurrency || this.closing) {
      this.lastActivityAt = now;
      return { ...details, idleMs: 0 };
    }
    const idleMs = now - this.lastActivityAt;
    if (idleMs > this.context.livenessMs && !(await queue.isPaused())) {
      throw new Error(
        `queue "${this.context.queueName}" has ${waiting} waiting job(s) but its worker ` +
          `(${inFlight}/${this.concurrency} slots busy) has started or finished none for ${idleMs} ms`,
      );
    }
    return { ...details, idleMs };
  }

  /**
   * Stops taking jobs, lets in-flight ones finish for `drainTimeoutMs`, then aborts their signals
   * and hands them back for retry; closes the connections. Bounded: drainTimeoutMs + ~4 s.
   */
  close(drainTimeoutMs: number): Promise<void> {
    this.closing ??= this.drainAndClose(drainTimeoutMs);
    return this.closing;
  }

  private async drainAndClose(drainTimeoutMs: number): Promise<void> {
    const { queueName: queue, log } = this.context;
    const closed = this.worker.close();
    if (!(await settlesWithin(closed, drainTimeoutMs))) {
      log.warn(
        { queue, inFlight: this.inFlight.size, drainTimeoutMs },
        'drain time spent: aborting in-flight jobs and leaving them for retry',
      );
      for (const [id, attempt] of this.inFlight) {
        attempt.abort(new JobInterruptedError(id, queue));
      }
      if (!(await settlesWithin(closed, 3000))) {
        // Redis is unreachable: stop waiting. Locks expire and another worker's stalled-job
        // check re-queues the jobs.
        log.warn({ queue }, 'worker did not close in time; dropping its connections');
        const blocking = (
          this.worker as unknown as { blockingConnection?: { disconnect(): unknown } }
        ).blockingConnection;
        await settlesWithin(
          Promise.resolve().then(() => blocking?.disconnect()),
          1000,
        );
      }
    }
    await closeRedis(this.redis, 1000);
  }
}
