// Needs the built package: test/fixtures/worker.mjs imports ../../dist/index.js. The root test
// command builds every package before testing.
import { waitFor } from '@bulwark/testing';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { forkWorker } from './fork-worker.js';
import { createApp, uniquePrefix } from './helpers.js';

describe('worker-only mode', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('runs definitions and process() in a process with no HTTP routes, and drains on SIGTERM', async () => {
    const prefix = uniquePrefix();
    const redisUrl = inject('redisUrl');
    // The producer side: an API process that only enqueues.
    ({ app } = await createApp({ connection: redisUrl, prefix }));
    const work = app.queues.define<{ n: number }>('work');
    await app.ready();
    for (const n of [1, 2, 3, 4]) await work.add({ n });

    const worker = await forkWorker({
      REDIS_URL: redisUrl,
      PREFIX: prefix,
      QUEUE: 'work',
      CONCURRENCY: '2',
      JOB_MS: '2000', // long enough that SIGTERM lands while the first two run
      REPORT: '1',
    });
    await waitFor(async () => (await work.stats()).active === 2, { what: 'two jobs in flight' });
    worker.child.kill('SIGTERM');
    const [code] = await worker.exited;
    expect(code).toBe(0);
    const done = worker.messages.filter((message) => message.done !== undefined);
    expect(done).toHaveLength(2);
    expect(worker.messages.at(-1)).toStrictEqual({ closed: true });
    // In-flight jobs finished; the rest wait for the next worker.
    expect(await work.stats()).toMatchObject({ completed: 2, active: 0, waiting: 2 });
  });
});
