import { waitFor } from '@bulwark/testing';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { DeadlineAttempt } from '../src/deadline.js';
import { errors } from '../src/index.js';
import { createApp } from './helpers.js';

describe('DeadlineAttempt (pure)', () => {
  it('settles with the timeout reason at the deadline even if the handler never settles', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const attempt = new DeadlineAttempt(
        () => new Promise(() => {}),
        100,
        () => new Error('late'),
      );
      const settled = expect(attempt.result).rejects.toThrow('late');
      await vi.advanceTimersByTimeAsync(100);
      await settled;
      expect(attempt.controller.signal.aborted).toBe(true);
      expect(attempt.controller.signal.reason).toStrictEqual(new Error('late'));
    } finally {
      vi.useRealTimers();
    }
  });

  it('passes through a result or a synchronous throw and clears its timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const value = new DeadlineAttempt(
        () => 7,
        1000,
        () => new Error('x'),
      );
      await expect(value.result).resolves.toBe(7);
      const resolved = new DeadlineAttempt(
        async () => 8,
        1000,
        () => new Error('x'),
      );
      await expect(resolved.result).resolves.toBe(8);
      const thrown = new DeadlineAttempt(
        () => {
          throw new Error('sync');
        },
        1000,
        () => new Error('x'),
      );
      await expect(thrown.result).rejects.toThrow('sync');
      const rejected = new DeadlineAttempt(
        () => Promise.reject(new Error('async')),
        1000,
        () => new Error('x'),
      );
      await expect(rejected.result).rejects.toThrow('async');
      expect(vi.getTimerCount()).toBe(0);
      await vi.advanceTimersByTimeAsync(1000);
      expect(value.controller.signal.aborted).toBe(false);
      expect(thrown.controller.signal.aborted).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it('settles at once with the reason when aborted, and ignores an abort after it settled', async () => {
    const attempt = new DeadlineAttempt(
      () => new Promise(() => {}),
      10_000,
      () => new Error('x'),
    );
    const shutdown = new Error('shutdown');
    attempt.abort(shutdown);
    await expect(attempt.result).rejects.toThrow('shutdown');
    expect(attempt.controller.signal.reason).toBe(shutdown);
    expect(attempt.abortedWith(shutdown)).toBe(true);
    const done = new DeadlineAttempt(
      () => 1,
      10_000,
      () => new Error('x'),
    );
    await expect(done.result).resolves.toBe(1);
    done.abort(new Error('late'));
    expect(done.controller.signal.aborted).toBe(false);
    expect(done.abortedWith(shutdown)).toBe(false);
  });

  it('ignores what the handler settles with after the deadline', async () => {
    let finish: (value: number) => void = () => {};
    const attempt = new DeadlineAttempt(
      () =>
        new Promise<number>((resolve) => {
          finish = resolve;
        }),
      10,
      () => new Error('late'),
    );
    await expect(attempt.result).rejects.toThrow('late');
    finish(5);
    await expect(attempt.result).rejects.toThrow('late');
  });
});

describe('job deadline', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('frees the slot of a handler that ignores its signal; the attempt fails with a timeout and is retried', async () => {
    let metrics: Awaited<ReturnType<typeof createApp>>['metrics'];
    ({ app, metrics } = await createApp(
      {
        connection: inject('redisUrl'),
        defaults: { attempts: 2, backoff: { delay: 10, jitter: 0 }, timeoutMs: 200 },
      },
      { metrics: true },
    ));
    app.queues.define('stuck');
    const signals: AbortSignal[] = [];
    const other: string[] = [];
    app.queues.process(
      'stuck',
      async (job, signal) => {
        if ((job.data as { hang?: boolean }).hang) {
          signals.push(signal);
          // Ignores its signal: never settles.
          return new Promise(() => {});
        }
        other.push(String(job.id));
      },
      { concurrency: 1 },
    );
    await app.ready();
    const stuck = await app.queues.add('stuck', { hang: true });
    const next = await app.queues.add('stuck', { hang: false });
    // With concurrency 1, the second job can only run once the stuck one's slot is freed.
    await waitFor(() => other.includes(String(next.id)), { what: 'next job ran', timeoutMs: 5000 });
    await waitFor(() => signals.length === 2, { what: 'stuck job retried', timeoutMs: 5000 });
    expect(signals[0]?.aborted).toBe(true);
    expect(signals[0]?.reason).toBeInstanceOf(errors.JobTimeoutError);
    await waitFor(async () => (await app!.queues.stats('stuck')).failed === 1, {
      what: 'stuck job failed for good',
      timeoutMs: 5000,
    });
    const failed = await app.queues.get('stuck').queue?.getJob(String(stuck.id));
    expect(failed?.failedReason).toMatch(/passed its 200 ms deadline/);
    expect(failed?.attemptsMade).toBe(2);
    const text = await metrics!.registry.metrics();
    expect(text).toContain('queue_job_timeouts_total{queue="stuck"} 2');
    // Disjoint outcomes: the first timed-out attempt was retried, the second failed for good.
    expect(text).toContain('queue_jobs_total{queue="stuck",outcome="retried"} 1');
    expect(text).toContain('queue_jobs_total{queue="stuck",outcome="failed"} 1');
  });

  it('honours a per-job timeoutMs', async () => {
    ({ app } = await createApp({ connection: inject('redisUrl') }));
    app.queues.define('slow', { defaults: { attempts: 1 } });
    app.queues.process(
      'slow',
      (_job, signal) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    );
    await app.ready();
    const started = Date.now();
    const job = await app.queues.add('slow', {}, { timeoutMs: 150 });
    await waitFor(async () => (await app!.queues.stats('slow')).failed === 1, { what: 'failed' });
    expect(Date.now() - started).toBeLessThan(3000);
    const failed = await app.queues.get('slow').queue?.getJob(String(job.id));
    expect(failed?.failedReason).toMatch(/passed its 150 ms deadline/);
  });
});
