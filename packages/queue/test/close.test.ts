import { startRedis, waitFor } from '@bulwark/testing';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { errors } from '../src/index.js';
import { createApp, uniquePrefix } from './helpers.js';

describe('graceful close', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('lets in-flight jobs finish, takes no new ones, then closes', async () => {
    const prefix = uniquePrefix();
    ({ app } = await createApp({ connection: inject('redisUrl'), prefix }));
    const q = app.queues.define<{ n: number }>('batch');
    const started: number[] = [];
    const finished: number[] = [];
    q.process(
      async (job) => {
        started.push(job.data.n);
        await new Promise((resolve) => setTimeout(resolve, 300));
        finished.push(job.data.n);
      },
      { concurrency: 2 },
    );
    await app.ready();
    for (const n of [1, 2, 3, 4]) await q.add({ n });
    await waitFor(() => started.length === 2, { what: 'two jobs running' });
    const closed = app;
    await app.close();
    app = undefined;
    await expect(closed.queues.add('batch', { n: 5 })).rejects.toBeInstanceOf(
      errors.UnavailableError,
    );
    expect(finished.sort()).toStrictEqual(started.sort());
    expect(started).toHaveLength(2);

    // The two jobs it never took are still waiting for the next worker.
    ({ app } = await createApp({ connection: inject('redisUrl'), prefix }));
    const stats = await app.queues.define('batch').stats();
    expect(stats).toMatchObject({ waiting: 2, active: 0, completed: 2 });
  });

  it('after drainTimeoutMs aborts signals and leaves the jobs for retry without spending an attempt', async () => {
    const prefix = uniquePrefix();
    ({ app } = await createApp({
      connection: inject('redisUrl'),
      prefix,
      drainTimeoutMs: 200,
      defaults: { timeoutMs: 60_000 },
    }));
    const q = app.queues.define<{ n: number }>('stubborn');
    const signals: AbortSignal[] = [];
    q.process(
      (_job, signal) => {
        signals.push(signal);
        return new Promise(() => {}); // ignores its signal
      },
      { concurrency: 2 },
    );
    await app.ready();
    await q.add({ n: 1 });
    await q.add({ n: 2 });
    await waitFor(() => signals.length === 2, { what: 'both running' });
    const started = Date.now();
    await app.close();
    app = undefined;
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(200 + 3000);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
    expect(signals[0]?.reason).toBeInstanceOf(errors.JobInterruptedError);

    ({ app } = await createApp({ connection: inject('redisUrl'), prefix }));
    const again = app.queues.define<{ n: number }>('stubborn');
    const rerun: Array<{ n: number; attemptsMade: number }> = [];
    again.process(
      async (job) => {
        rerun.push({ n: job.data.n, attemptsMade: job.attemptsMade });
      },
      { concurrency: 2 },
    );
    await app.ready();
    await waitFor(() => rerun.length === 2, { what: 'jobs re-run by the next worker' });
    expect(rerun.sort((a, b) => a.n - b.n)).toStrictEqual([
      { n: 1, attemptsMade: 0 },
      { n: 2, attemptsMade: 0 },
    ]);
  });

  it('is bounded when Redis dies while jobs are in flight', async () => {
    const redis = await startRedis();
    try {
      ({ app } = await createApp({ connection: redis.url, drainTimeoutMs: 200 }));
      const q = app.queues.define('doomed');
      let running = 0;
      q.process(
        () => {
          running += 1;
          return new Promise(() => {});
        },
        { concurrency: 2 },
      );
      await app.ready();
      await q.add({});
      await q.add({});
      await waitFor(() => running === 2, { what: 'both running' });
      await redis.kill();
      const started = Date.now();
      await app.close();
      app = undefined;
      expect(Date.now() - started).toBeLessThan(200 + 5000);
    } finally {
      await redis.stop();
    }
  });
});
