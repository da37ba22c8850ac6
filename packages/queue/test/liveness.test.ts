import { waitFor } from '@bulwark/testing';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApp, deferred } from './helpers.js';

describe('consumer liveness check', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('goes unhealthy when the worker is paused out from under it with jobs waiting, and recovers', async () => {
    let health: Awaited<ReturnType<typeof createApp>>['health'];
    ({ app, health } = await createApp(
      { connection: inject('redisUrl'), consumerLivenessMs: 1000 },
      { health: true },
    ));
    const q = app.queues.define('work');
    const done: number[] = [];
    q.process(async (job) => {
      done.push((job.data as { n: number }).n);
    });
    await app.ready();
    const spec = health!.checks.get('queue:work:consumer');
    expect(spec).toMatchObject({ critical: false, tags: ['queue'] });
    expect(health!.checks.has('queue:redis')).toBe(true);
    await expect(health!.run('queue:work:consumer')).resolves.toMatchObject({ waiting: 0 });

    // Simulates a worker that silently stopped consuming (e.g. a hung blocking connection).
    // pause() (not pause(true)) also interrupts the blocking fetch already in flight, which could
    // otherwise still take the job added next.
    await q.worker?.pause();
    await q.add({ n: 1 });
    await expect(health!.run('queue:work:consumer')).resolves.toMatchObject({ waiting: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await expect(health!.run('queue:work:consumer')).rejects.toThrow(
      /queue "work" has 1 waiting job\(s\) but its worker \(0\/1 slots busy\) has started or finished none for \d+ ms/,
    );

    q.worker?.resume();
    await waitFor(() => done.includes(1), { what: 'job processed after resume' });
    await expect(health!.run('queue:work:consumer')).resolves.toMatchObject({ waiting: 0 });
  });

  it('stays healthy while every slot is busy with a long job', async () => {
    let health: Awaited<ReturnType<typeof createApp>>['health'];
    ({ app, health } = await createApp(
      { connection: inject('redisUrl'), consumerLivenessMs: 200, defaults: { timeoutMs: 5000 } },
      { health: true },
    ));
    const q = app.queues.define('long');
    const release = deferred();
    const started: number[] = [];
    q.process(async (job) => {
      started.push((job.data as { n: number }).n);
      await release.promise;
    });
    await app.ready();
    await q.add({ n: 1 });
    await q.add({ n: 2 });
    await waitFor(() => started.length === 1, { what: 'first job started' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await expect(health!.run('queue:long:consumer')).resolves.toMatchObject({
      waiting: 1,
      inFlight: 1,
      concurrency: 1,
    });
    release.resolve();
  });

  it('registers no checks and breaks nothing without fastify.health', async () => {
    ({ app } = await createApp({ connection: inject('redisUrl') }));
    app.queues.define('x').process(async () => {});
    await app.ready();
    expect(app.hasDecorator('health')).toBe(false);
  });
});
