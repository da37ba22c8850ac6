import { waitFor } from '@bulwark/testing';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApp } from './helpers.js';

describe('retries with backoff', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('retries a failing job per policy with exponential backoff, then completes it', async () => {
    let metrics: Awaited<ReturnType<typeof createApp>>['metrics'];
    ({ app, metrics } = await createApp(
      {
        connection: inject('redisUrl'),
        defaults: { attempts: 3, backoff: { type: 'exponential', delay: 200, jitter: 0 } },
      },
      { metrics: true },
    ));
    const attempts: number[] = [];
    app.queues.define('flaky');
    app.queues.process('flaky', async (job) => {
      attempts.push(Date.now());
      if (job.attemptsMade < 2) throw new Error(`boom ${job.attemptsMade}`);
      return 'ok';
    });
    await app.ready();
    await app.queues.add('flaky', { n: 1 });
    await waitFor(async () => (await app!.queues.stats('flaky')).completed === 1, {
      what: 'completed after retries',
    });
    expect(attempts).toHaveLength(3);
    const [first, second, third] = attempts as [number, number, number];
    // exponential from 200 ms: ≥ 200 ms, then ≥ 400 ms (no jitter in this test).
    expect(second - first).toBeGreaterThanOrEqual(190);
    expect(third - second).toBeGreaterThanOrEqual(390);
    const text = await metrics!.registry.metrics();
    // One outcome per attempt: two retried, one completed, none failed for good.
    expect(text).not.toContain('queue_jobs_total{queue="flaky",outcome="failed"}');
    expect(text).toContain('queue_jobs_total{queue="flaky",outcome="retried"} 2');
    expect(text).toContain('queue_jobs_total{queue="flaky",outcome="completed"} 1');
    expect(text).toContain('queue_job_duration_seconds_count{queue="flaky"} 3');
    expect(text).toContain('queue_job_wait_seconds_count{queue="flaky"} 1');
  });

  it('keeps jitter within the configured fraction of the delay', async () => {
    ({ app } = await createApp({ connection: inject('redisUrl') }));
    app.queues.define('j', { defaults: { attempts: 2, backoff: { delay: 300, jitter: 0.5 } } });
    const attempts: number[] = [];
    app.queues.process('j', async () => {
      attempts.push(Date.now());
      if (attempts.length === 1) throw new Error('once');
    });
    await app.ready();
    await app.queues.add('j', {});
    await waitFor(() => attempts.length === 2, { what: 'second attempt' });
    const gap = (attempts[1] as number) - (attempts[0] as number);
    expect(gap).toBeGreaterThanOrEqual(140);
    expect(gap).toBeLessThan(3000);
  });
});
