import { Job, type JobsOptions, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * The dead-letter queue of `queue`: a BullMQ queue named `<queue>.dead` under the same prefix
 * (BullMQ forbids ":" in queue names). It has no worker: dead jobs wait there until replayed.
 */
export function deadLetterQueueName(queue: string): string {
  return `${queue}.dead`;
}

/** What the dead-letter queue keeps of a job that exhausted its attempts. */
export interface DeadJob<T = unknown> {
  /** The queue the job failed in. */
  queue: string;
  /** The failed job's id in that queue. */
  jobId: string;
  /** The failed job's name. */
  name: string;
  /** The payload, as enqueued. */
  data: T;
  /** Attempts made before the job was dead-lettered. */
  attemptsMade: number;
  /** The last attempt's error message. */
  failedReason: string;
  /** Stack traces of the failed attempts (last first, as BullMQ keeps them). */
  stacktrace: string[];
  /** When the job was first enqueued (ms since epoch). */
  enqueuedAt: number;
  /** When the last attempt failed (ms since epoch). */
  failedAt: number;
}

/** Copies a job that exhausted its attempts; idempotent per job id (a second copy is a no-op). */
export async function copyToDeadLetter(dead: Queue, job: Job, error: Error): Promise<void> {
  const entry: DeadJob = {
    queue: job.queueName,
    jobId: String(job.id),
    name: job.name,
    data: job.data as unknown,
    attemptsMade: job.attemptsMade,
    failedReason: job.failedReason || error.message,
    stacktrace: job.stacktrace ?? [],
    enqueuedAt: job.timestamp,
    failedAt: job.finishedOn ?? Date.now(),
  };
  await dead.add(job.name, entry, {
    // BullMQ rejects integer custom ids; the prefix keeps ids unique per source job.
    jobId: deadEntryId(String(job.id)),
    attempts: 1,
    removeOnComplete: true,
    removeOnFail: true,
  });
}

/** The oldest `limit` dead jobs with their DLQ job, oldest first. */
export async function readDead(dead: Queue, limit: number): Promise<Job<DeadJob>[]> {
  // The DLQ has no worker, so its wait list only changes by dead-lettering and replay.
  const jobs = (await dead.getJobs(['waiting'], 0, limit - 1, true)) as Job<DeadJob>[];
  return jobs.filter(Boolean);
}

/**
 * Moves one dead job back into its queue as a fresh job, atomically: the new job's creation (by
 * BullMQ's own add script) and the dead entry's removal go in ONE Redis transaction (MULTI/EXEC,
 * as BullMQ's FlowProducer adds a flow), guarded by WATCH on the dead entry. A failure at any
 * point (connection lost before or after EXEC, process killed) leaves either the dead entry or
 * the live job, never both and never neither; two replays racing over one entry replay it once.
 *
 * `live` must be a Queue on a connection of its own (WATCH is per connection): the caller makes
 * one for the replay and closes it after.
 *
 * @returns the new job's id, or undefined when the entry was no longer dead (already replayed).
 */
export async function replayDeadJob(
  live: Queue,
  dead: Queue,
  entry: Job<DeadJob>,
  options: JobsOptions,
): Promise<string | undefined> {
  // BullMQ types its client narrowly; it is the ioredis connection the caller gave `live`.
  const client = (await live.client) as unknown as Redis;
  const entryKey = dead.toKey(String(entry.id));
  await client.watch(entryKey);
  if ((await client.exists(entryKey)) === 0) {
    await client.unwatch();
    return undefined;
  }
  const transaction = client.multi();
  const job = new Job(live, entry.data.name, entry.data.data, options);
  await job.addJob(transaction as unknown as Parameters<Job['addJob']>[0], {
    parentDependenciesKey: '',
  });
  transaction.lrem(dead.keys.wait!, 1, String(entry.id));
  transaction.del(entryKey, `${entryKey}:logs`);
  // The original leaves the failed set with its dead entry, so reconciliation (below) cannot
  // dead-letter it a second time; only if it is still there (the app may have retried it).
  const originalKey = live.toKey(entry.data.jobId);
  transaction.eval(REMOVE_IF_FAILED, 2, live.keys.failed!, originalKey, entry.data.jobId);
  const results = await transaction.exec();
  // null: the entry changed after WATCH (another replay took it); nothing was applied.
  if (results === null) return undefined;
  const [addError, jobId] = results[0] ?? [new Error('no reply to the add')];
  // Redis runs every command of an EXEC; an add script error (none expected for a plain job)
  // would leave the entry removed, so say so loudly rather than report a replay.
  if (addError)
    throw new Error(`replaying dead job ${entry.id}: ${addError.message}`, { cause: addError });
  return String(jobId);
}

const REMOVE_IF_FAILED = `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('DEL', KEYS[2], KEYS[2] .. ':logs')
  return 1
end
return 0`;

/**
 * Dead-letters every job of `queue`'s failed set that has no dead entry yet. BullMQ moves a job
 * to the failed set and the worker copies it to the dead-letter queue afterwards: a process that
 * dies (or loses Redis) between the two leaves a dead job that only the failed set shows. Run at
 * worker start, this makes dead-lettering loss-free: the copy is idempotent (its id is derived
 * from the job's), and a replayed job has left the failed set, so it is never copied twice.
 *
 * @returns how many jobs were copied now.
 */
export async function reconcileDeadLetters(
  queue: Queue,
  dead: Queue,
  limit = 1000,
): Promise<number> {
  const failed = await queue.getFailed(0, limit - 1);
  let copied = 0;
  for (const job of failed) {
    if (!job?.id) continue;
    if (await dead.getJob(deadEntryId(job.id))) continue;
    await copyToDeadLetter(dead, job, new Error(job.failedReason || 'failed'));
    copied += 1;
  }
  return copied;
}

/** The dead-letter entry's id for source job `id`. */
function deadEntryId(id: string): string {
  return `dead-${id}`;
}
