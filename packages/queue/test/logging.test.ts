import { waitFor } from '@bulwark/testing';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApp } from './helpers.js';

describe('job events in the log', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('logs completed at debug and failed at warn with queue, job id, name and attempt', async () => {
    const logs: Array<Record<string, unknown>> = [];
    ({ app } = await createApp(
      { connection: inject('redisUrl'), defaults: { attempts: 2, backoff: { delay: 10 } } },
      { logs },
    ));
    const q = app.queues.define('mail');
    q.process(async (job) => {
      if (job.attemptsMade === 0) throw new Error('smtp down');
    });
    await app.ready();
    const job = await q.add({});
    await waitFor(() => logs.some((line) => line.msg === 'job completed'), {
      what: 'completed log',
    });
    const failed = logs.find((line) => String(line.msg).startsWith('job attempt failed'));
    expect(failed).toMatchObject({
      level: 40,
      queue: 'mail',
      jobId: job.id,
      jobName: 'mail',
      attempt: 1,
      plugin: '@bulwark/queue',
    });
    expect(failed?.msg).toBe('job attempt failed, will retry: smtp down');
    const completed = logs.find((line) => line.msg === 'job completed');
    expect(completed).toMatchObject({
      level: 20,
      queue: 'mail',
      jobId: job.id,
      jobName: 'mail',
      attempt: 2,
    });
  });
});
