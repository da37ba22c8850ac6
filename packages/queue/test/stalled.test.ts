import { waitFor } from '@bulwark/testing';
import { Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApp, uniquePrefix } from './helpers.js';

/** Takes one job with a raw BullMQ worker and "crashes" (force close): the job stays active. */
async function crashWithJob(prefix: string, queue: string): Promise<void> {
  const connection = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  let taken!: () => void;
  const took = new Promise<void>((resolve) => {
    taken = resolve;
  });
  const worker = new Worker(
    queue,
    () => {
      taken();
      return new Promise(() => {});
    },
    // skipStalledCheck: its own check would rate-limit the next worker's for 30 s.
    { connection, prefix, lockDuration: 500, skipStalledCheck: true },
  );
  await took;
  await worker.close(true);
  connection.disconnect();
}

describe('stalled jobs', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('re-runs a job whose worker died, logging the stall at warn', async () => {
    const prefix = uniquePrefix();
    const logs: Array<Record<string, unknown>> = [];
    ({ app } = await createApp({ connection: inject('redisUrl'), prefix }, { logs }));
    const q = app.queues.define('orphans');
    const job = await q.add({});
    await crashWithJob(prefix, 'orphans');
    const ran: string[] = [];
    q.process(
      async (current) => {
        ran.push(String(current.id));
      },
      { stalledIntervalMs: 300 },
    );
    await app.ready();
    await waitFor(() => ran.includes(String(job.id)), { what: 'stalled job re-run' });
    expect(logs.find((line) => String(line.msg).startsWith('job stalled'))).toMatchObject({
      level: 40,
      queue: 'orphans',
      jobId: job.id,
    });
  });

  it('dead-letters a job that stalled more than maxStalledCount times', async () => {
    const prefix = uniquePrefix();
    ({ app } = await createApp({ connection: inject('redisUrl'), prefix }));
    const q = app.queues.define<{ n: number }>('fragile');
    const job = await q.add({ n: 7 });
    await crashWithJob(prefix, 'fragile');
    q.process(async () => {}, { stalledIntervalMs: 300, maxStalledCount: 0 });
    await app.ready();
    await waitFor(async () => (await q.stats()).dead === 1, { what: 'dead-lettered after stall' });
    const [dead] = await q.dead();
    expect(dead).toMatchObject({
      jobId: String(job.id),
      data: { n: 7 },
      failedReason: 'job stalled more than allowable limit',
    });
  });
});
