import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../database/db.js';

/**
 * The transactional outbox's two passes: the relay hands new rows to the queue, the sweeper
 * re-enqueues rows the queue lost. Delivery is at-least-once: a row can be handed over more than
 * once (two relays, a sweep racing a slow worker), and the row id is the idempotency key twice
 * over: it is the job id (adding an id the queue still holds is a no-op) and delivery only
 * changes a row still `pending`.
 *
 * No Redis call is made while a database transaction or a pooled client is held: each pass reads
 * its rows in one statement, talks to Redis with no client checked out, then marks the rows in
 * one statement. A Redis outage therefore never holds a database connection (on embedded PGlite,
 * one open transaction stalls every other connection).
 */

/** The BullMQ job the sweeper inspects: only what it needs. */
export interface OutboxJob {
  getState(): Promise<string>;
  retry(state?: 'failed' | 'completed'): Promise<void>;
  remove(): Promise<void>;
}

interface OutboxQueues {
  add(name: string, data: unknown, options?: { jobId?: string }): Promise<unknown>;
  get(name: string): {
    readonly queue: { getJob(id: string): Promise<OutboxJob | undefined> } | undefined;
  };
}

export const OUTBOX_QUEUE = 'email';

/** The queue job id of outbox row `id` (BullMQ refuses integer custom ids, hence the prefix). */
export function outboxJobId(id: string): string {
  return `outbox-${id}`;
}

export interface OutboxRelay {
  relay(limit?: number): Promise<number>;
  sweep(staleAfterMs: number, limit?: number): Promise<number>;
}

export function outboxRelay(options: {
  db: Db;
  /** Undefined without Redis: rows are then delivered in-process by the relay. */
  queues: OutboxQueues | undefined;
  log: FastifyBaseLogger;
}): OutboxRelay {
  const { db, queues, log } = options;

  async function enqueue(id: string): Promise<void> {
    await queues!.add(OUTBOX_QUEUE, { outboxId: id }, { jobId: outboxJobId(id) });
  }

  async function markEnqueued(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await db.query('UPDATE outbox SET enqueued_at = now() WHERE id = ANY($1::bigint[])', [ids], {
      idempotent: true,
    });
  }

  return {
    async relay(limit = 100) {
      if (!queues) {
        // No queue: "sending" is marking the row, one statement, nothing else to wait on.
        const { rowCount } = await db.query(
          `UPDATE outbox SET status = 'sent', sent_at = now(), enqueued_at = now()
            WHERE id IN (SELECT id FROM outbox WHERE enqueued_at IS NULL ORDER BY id LIMIT $1)
              AND status = 'pending'`,
          [limit],
          { idempotent: true },
        );
        return rowCount ?? 0;
      }
      const { rows } = await db.query<{ id: string }>(
        'SELECT id::text FROM outbox WHERE enqueued_at IS NULL ORDER BY id LIMIT $1',
        [limit],
        { idempotent: true },
      );
      const enqueued: string[] = [];
      try {
        for (const { id } of rows) {
          await enqueue(id);
          enqueued.push(id);
        }
      } finally {
        // Rows handed over before a failure are marked; the rest stay for the next pass.
        await markEnqueued(enqueued);
      }
      if (rows.length > 0) log.debug({ relayed: rows.length }, 'outbox relayed');
      return rows.length;
    },

    async sweep(staleAfterMs, limit = 100) {
      if (!queues) return 0;
      const queue = queues.get(OUTBOX_QUEUE).queue;
      if (!queue) return 0;
      const { rows } = await db.query<{ id: string }>(
        `SELECT id::text FROM outbox
          WHERE status = 'pending' AND enqueued_at < now() - $1 * interval '1 millisecond'
          ORDER BY enqueued_at LIMIT $2`,
        [staleAfterMs, limit],
        { idempotent: true },
      );
      const swept: string[] = [];
      const requeued: string[] = [];
      try {
        for (const { id } of rows) {
          const job = await withinRedisDeadline(queue.getJob(outboxJobId(id)));
          const state = job ? await withinRedisDeadline(job.getState()) : 'missing';
          if (state === 'missing' || state === 'unknown') {
            // Redis lost it (restarted empty, flushed, evicted): hand it over again.
            await enqueue(id);
            requeued.push(id);
          } else if (state === 'failed') {
            // Failed for good (attempts spent): a fresh round of attempts, same job id.
            await withinRedisDeadline(job!.retry('failed'));
            requeued.push(id);
          } else if (state === 'completed') {
            // Completed while the row stays pending: the delivery did not take; run it again.
            await withinRedisDeadline(job!.retry('completed'));
            requeued.push(id);
          }
          // waiting, delayed, active, prioritized: the queue still has it; only the clock moves.
          swept.push(id);
        }
      } finally {
        await markEnqueued(swept);
      }
      if (requeued.length > 0) {
        log.warn(
          { requeued: requeued.length, outboxIds: requeued },
          'outbox sweeper re-enqueued pending rows the queue had lost or failed',
        );
      }
      return requeued.length;
    },
  };
}

/** @bulwark/queue bounds add(); the sweeper's reads go to BullMQ directly and get the same. */
const REDIS_DEADLINE_MS = 2000;

// A partitioned Redis answers nothing and refuses nothing: without a deadline one sweep would
// wait forever and, since passes never overlap, stop the relay with it.
function withinRedisDeadline<T>(operation: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Redis did not answer within ${REDIS_DEADLINE_MS} ms`)),
      REDIS_DEADLINE_MS,
    );
    timer.unref();
  });
  return Promise.race([operation, deadline]).finally(() => clearTimeout(timer));
}
