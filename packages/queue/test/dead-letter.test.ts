import { waitFor } from '@bulwark/testing';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { deadLetterQueueName } from '../src/index.js';
import { createApp } from './helpers.js';

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
});
