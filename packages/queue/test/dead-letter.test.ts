import { waitFor } from '@bulwark/testing';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { deadLetterQueueName } from '../src/index.js';
import { createApp, uniquePrefix } from './helpers.js';

describe('dead-letter queue', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('copies a job that exhausted its attempts, with data, attempts and last error; replay re-enqueues it', async () => {
    let metrics: Awaited<ReturnType<typeof createApp>>['metrics'];
    ({ app, metrics } = await createApp(
      {
        connection: inject('redisUrl'),
        defaults: { attempts: 2, backoff: { delay: 10, jitter: 0 } },
        depthIntervalMs: 100,
      },
      { metrics: true },
    ));
    const reports = app.queues.define<{ id: number }>('reports');
    let healthy = false;
    const done: number[] = [];
    reports.process(async (job) => {
      if (!healthy) throw new Error(`downstream down for ${job.data.id}`);
      done.push(job.data.id);
    });
    await app.ready();
    const job = await reports.add({ id: 42 });
    await waitFor(async () => (await reports.stats()).dead === 1, { what: 'dead-lettered' });
    const [dead] = await reports.dead();
    expect(dead).toMatchObject({
      queue: 'reports',
      jobId: String(job.id),
      name: 'reports',
      data: { id: 42 },
      attemptsMade: 2,
      failedReason: 'downstream down for 42',
    });
    expect(dead?.stacktrace.length).toBeGreaterThan(0);
    expect(reports.queue?.name).toBe('reports');
    expect(deadLetterQueueName('reports')).toBe('reports.dead');
    await waitFor(
      async () =>
        (await metrics!.registry.metrics()).includes('queue_depth{queue="reports",state="dead"} 1'),
      { what: 'depth sampled' },
    );
    expect(await metrics!.registry.metrics()).toContain(
      'queue_jobs_dead_lettered_total{queue="reports"} 1',
    );

    healthy = true;
    expect(await reports.replayDead({ limit: 10 })).toBe(1);
    await waitFor(() => done.includes(42), { what: 'replayed job completed' });
    expect(await reports.dead()).toStrictEqual([]);
    expect(await reports.replayDead()).toBe(0);
  });

  it('replays at most limit jobs, oldest first', async () => {
    ({ app } = await createApp({
      connection: inject('redisUrl'),
      defaults: { attempts: 1 },
    }));
    const q = app.queues.define<{ n: number }>('q');
    q.process(async () => {
      throw new Error('no');
    });
    await app.ready();
    for (const n of [1, 2, 3]) await q.add({ n });
    await waitFor(async () => (await q.stats()).dead === 3, { what: 'three dead' });
    expect((await q.dead({ limit: 2 })).map((d) => d.data.n)).toStrictEqual([1, 2]);
    await q.worker?.close();
    expect(await q.replayDead({ limit: 2 })).toBe(2);
    expect((await q.dead()).map((d) => d.data.n)).toStrictEqual([3]);
    expect((await q.stats()).waiting).toBe(2);
  });

  it('replays N dead jobs as exactly N live jobs when the connection fails before or after EXEC', async () => {
    ({ app } = await createApp({ connection: inject('redisUrl'), defaults: { attempts: 1 } }));
    const q = app.queues.define<{ n: number }>('atomic');
    q.process(async () => {
      throw new Error('no');
    });
    await app.ready();
    const n = 6;
    for (let index = 0; index < n; index += 1) await q.add({ n: index });
    await waitFor(async () => (await q.stats()).dead === n, { what: `${n} dead` });
    await q.worker?.close();
    const waitingBefore = (await q.stats()).waiting;

    // Failures injected at the client, on real Redis: the 2nd replay transaction is applied but
    // its reply is lost (as when the connection drops after EXEC); the 4th never reaches Redis.
    const multi = Redis.prototype.multi;
    let transactions = 0;
    const spy = vi.spyOn(Redis.prototype, 'multi').mockImplementation(function (
      this: Redis,
      ...args: unknown[]
    ) {
      const transaction = (multi as (...a: unknown[]) => ReturnType<Redis['multi']>).apply(
        this,
        args,
      );
      const exec = transaction.exec.bind(transaction);
      transaction.exec = (async () => {
        transactions += 1;
        if (transactions === 2) {
          await exec();
          throw new Error('connection lost after EXEC');
        }
        if (transactions === 4) throw new Error('connection lost before EXEC');
        return exec();
      }) as typeof transaction.exec;
      return transaction;
    } as typeof Redis.prototype.multi);
    try {
      let replayed = 0;
      const failures: string[] = [];
      // The admin retries until nothing is left, as they would after a 503.
      for (let attempt = 0; attempt < 5 && (await q.stats()).dead > 0; attempt += 1) {
        try {
          replayed += await q.replayDead({ limit: n });
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
      expect(failures).toStrictEqual(['connection lost after EXEC', 'connection lost before EXEC']);
      // Each entry needed one transaction, plus one retried after the failure before EXEC.
      expect(transactions).toBe(n + 1);
      expect(replayed).toBeGreaterThan(0);
    } finally {
      spy.mockRestore();
    }
    const stats = await q.stats();
    expect(stats.dead).toBe(0);
    expect(stats.waiting - waitingBefore).toBe(n);
    const live = await q.queue!.getJobs(['waiting']);
    expect(live.map((job) => (job.data as { n: number }).n).sort()).toStrictEqual(
      Array.from({ length: n }, (_, index) => index),
    );
  });

  it('dead-letters at the next start a job whose copy was never made, and never twice after replay', async () => {
    const prefix = uniquePrefix();
    const options = { connection: inject('redisUrl'), prefix, defaults: { attempts: 1 } };
    const start = async () => {
      ({ app } = await createApp(options));
      const q = app.queues.define<{ n: number }>('lost');
      q.process(async () => {
        throw new Error('no');
      });
      await app.ready();
      return q;
    };
    // The process "dies" between BullMQ's move to failed and the copy: the copy never happens.
    const add = Queue.prototype.add;
    const spy = vi.spyOn(Queue.prototype, 'add').mockImplementation(function (
      this: Queue,
      ...args: Parameters<Queue['add']>
    ) {
      if (this.name.endsWith('.dead')) return Promise.reject(new Error('process died'));
      return add.apply(this, args);
    });
    let q = await start();
    try {
      await q.add({ n: 1 });
      await waitFor(async () => (await q.stats()).failed === 1, { what: 'failed for good' });
      expect((await q.stats()).dead).toBe(0);
    } finally {
      spy.mockRestore();
    }
    await app!.close();

    q = await start();
    await waitFor(async () => (await q.stats()).dead === 1, { what: 'reconciled at start' });
    expect((await q.dead()).map((entry) => entry.data)).toStrictEqual([{ n: 1 }]);
    await q.worker?.close();
    expect(await q.replayDead()).toBe(1);
    // The original left the failed set with its dead entry: a restart finds nothing to copy.
    expect((await q.stats()).failed).toBe(0);
    await app!.close();

    q = await start();
    await waitFor(async () => (await q.stats()).failed === 1, {
      what: 'the replayed job failed again',
    });
    await waitFor(async () => (await q.stats()).dead === 1, {
      what: 'the replayed job dead-lettered',
    });
    const [entry] = await q.dead();
    expect(entry?.data).toStrictEqual({ n: 1 });
    // One entry, for the new job: the original was not dead-lettered a second time.
    expect((await q.stats()).dead).toBe(1);
  });
});
