import type { Job, Queue } from 'bullmq';

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
    jobId: `dead-${job.id}`,
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
