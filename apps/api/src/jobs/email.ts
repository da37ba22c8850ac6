import { Type } from '@sinclair/typebox';
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../database/db.js';
import { NotFoundError } from '../errors.js';
import { OUTBOX_QUEUE, type OutboxJob, outboxRelay } from './outbox.js';

export const EMAIL_QUEUE = OUTBOX_QUEUE;
export const EmailJob = Type.Object(
  { outboxId: Type.String({ pattern: '^\\d+$' }) },
  { additionalProperties: false },
);

/** The part of `fastify.queues` (@bulwark/queue) the email jobs use. */
export interface QueuesLike {
  readonly enabled: boolean;
  define(name: string, definition: { schema: typeof EmailJob }): unknown;
  names(): string[];
  get(name: string): {
    stats(): Promise<Record<string, number>>;
    /** The BullMQ queue (undefined when disabled): the sweeper reads a job's state from it. */
    readonly queue: { getJob(id: string): Promise<OutboxJob | undefined> } | undefined;
  };
  add(name: string, data: unknown, options?: { jobId?: string }): Promise<unknown>;
  process(
    name: string,
    handler: (job: { data: unknown }, signal: AbortSignal) => Promise<unknown>,
    options?: { concurrency?: number },
  ): void;
  replayDead(name: string, options?: { limit?: number }): Promise<number>;
}

export interface QueueStats {
  enabled: boolean;
  queues: {
    name: string;
    waiting: number;
    active: number;
    delayed: number;
    completed: number;
    failed: number;
    dead: number;
  }[];
}

export interface EmailJobs {
  /** Hands unrelayed outbox rows to the queue (or delivers them in-process with no queue). */
  relay(limit?: number): Promise<number>;
  /** Re-enqueues pending rows relayed longer than `staleAfterMs` ago whose job is gone or dead. */
  sweep(staleAfterMs: number, limit?: number): Promise<number>;
  stats(): Promise<QueueStats>;
  replay(queue: string, limit: number): Promise<number>;
}

/** "Delivers" an outbox email: there is no SMTP here, delivery is marking the row sent. */
export async function deliver(db: Db, outboxId: string): Promise<void> {
  await db.query(
    `UPDATE outbox SET status = 'sent', sent_at = now() WHERE id = $1 AND status = 'pending'`,
    [outboxId],
    { idempotent: true },
  );
}

export function emailJobs(options: {
  db: Db;
  queues: QueuesLike | undefined;
  log: FastifyBaseLogger;
}): EmailJobs {
  const { db, queues, log } = options;
  const queueOn = queues?.enabled === true;
  if (queueOn) queues!.define(EMAIL_QUEUE, { schema: EmailJob });
  const outbox = outboxRelay({ db, queues: queueOn ? queues : undefined, log });

  return {
    relay: outbox.relay,
    sweep: outbox.sweep,
    async stats() {
      if (!queueOn) return { enabled: false, queues: [] };
      const names = queues!.names();
      const all = await Promise.all(names.map((name) => queues!.get(name).stats()));
      return {
        enabled: true,
        queues: names.map((name, index) => {
          const counts = all[index]!;
          const n = (key: string) => counts[key] ?? 0;
          return {
            name,
            waiting: n('waiting'),
            active: n('active'),
            delayed: n('delayed'),
            completed: n('completed'),
            failed: n('failed'),
            dead: n('dead'),
          };
        }),
      };
    },
    async replay(queue, limit) {
      if (!queueOn) return 0;
      // An unknown name is the caller's mistake: 404, not @bulwark/queue's 500 (BULWARK_QUEUE_UNKNOWN).
      if (!queues!.names().includes(queue)) throw new NotFoundError('Queue');
      return queues!.replayDead(queue, { limit });
    },
  };
}

/**
 * Starts the email worker on `queues` (inline in the API, or in the worker process). Delivery is
 * one statement that does not take the job's signal, so a job whose signal aborts (deadline,
 * drain time spent at shutdown) may keep running: it is logged by job id, so a shutdown that
 * overruns its deadline says which job held it.
 */
export function processEmails(queues: QueuesLike, db: Db, log: FastifyBaseLogger): void {
  if (!queues.names().includes(EMAIL_QUEUE)) queues.define(EMAIL_QUEUE, { schema: EmailJob });
  queues.process(
    EMAIL_QUEUE,
    async (job, signal) => {
      const jobId = (job as { id?: string }).id;
      const onAbort = () =>
        log.warn(
          { queue: EMAIL_QUEUE, jobId, reason: String(signal.reason) },
          `job ${jobId} is still running after its abort signal`,
        );
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        await deliver(db, (job.data as { outboxId: string }).outboxId);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
    { concurrency: 5 },
  );
}
