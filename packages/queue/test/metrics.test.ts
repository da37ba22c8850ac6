import { startRedis, waitFor } from '@bulwark/testing';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApp } from './helpers.js';

describe('metrics', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('samples queue_depth per state on an interval; a scrape runs no Redis command', async () => {
    const redis = await startRedis();
    try {
      let metrics: Awaited<ReturnType<typeof createApp>>['metrics'];
      ({ app, metrics } = await createApp(
        { connection: redis.url, depthIntervalMs: 100, enqueueTimeoutMs: 300 },
        { metrics: true },
      ));
      const q = app.queues.define('depth');
      await app.ready();
      await q.add({});
      await q.add({});
      await q.add({}, { delay: 60_000 });
      await waitFor(
        async () =>
          (await metrics!.registry.metrics()).includes(
            'queue_depth{queue="depth",state="waiting"} 2',
          ),
        { what: 'waiting depth sampled' },
      );
      const text = await metrics!.registry.metrics();
      for (const line of [
        'queue_depth{queue="depth",state="active"} 0',
        'queue_depth{queue="depth",state="delayed"} 1',
        'queue_depth{queue="depth",state="failed"} 0',
        'queue_depth{queue="depth",state="dead"} 0',
      ]) {
        expect(text).toContain(line);
      }
      // With Redis gone, a scrape still answers at once with the last sample.
      await redis.kill();
      const started = Date.now();
      const after = await metrics!.registry.metrics();
      expect(Date.now() - started).toBeLessThan(500);
      expect(after).toContain('queue_depth{queue="depth",state="waiting"} 2');
    } finally {
      await app?.close();
      app = undefined;
      await redis.stop();
    }
  });

  it('registers nothing and breaks nothing without fastify.metrics', async () => {
    ({ app } = await createApp({ connection: inject('redisUrl'), depthIntervalMs: 100 }));
    const q = app.queues.define('plain');
    let ran = 0;
    q.process(async () => {
      ran += 1;
    });
    await app.ready();
    await q.add({});
    await waitFor(() => ran === 1, { what: 'processed without metrics' });
    expect(app.hasDecorator('metrics')).toBe(false);
  });
});
