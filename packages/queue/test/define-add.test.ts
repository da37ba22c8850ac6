import { waitFor } from '@bulwark/testing';
import { Type } from '@sinclair/typebox';
import type { Job } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { errors } from '../src/index.js';
import { createApp } from './helpers.js';

const Email = Type.Object(
  { to: Type.String({ format: 'email' }), subject: Type.String({ minLength: 1 }) },
  { additionalProperties: false },
);

describe('define, add and process', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('enqueues a valid payload and runs the handler with the job and a signal', async () => {
    ({ app } = await createApp({ connection: inject('redisUrl') }));
    const emails = app.queues.define('emails', { schema: Email });
    const seen: Array<{ data: unknown; aborted: boolean }> = [];
    emails.process(async (job, signal) => {
      seen.push({ data: job.data, aborted: signal.aborted });
      return 'sent';
    });
    await app.ready();
    const job = await app.queues.add('emails', { to: 'a@example.com', subject: 'hi' });
    expect(job.id).toBeDefined();
    await waitFor(() => seen.length === 1, { what: 'job processed' });
    expect(seen).toStrictEqual([{ data: { to: 'a@example.com', subject: 'hi' }, aborted: false }]);
    await waitFor(async () => (await emails.stats()).completed === 1, { what: 'completed' });
  });

  it('rejects a bad payload with a 400 naming the problem, and enqueues nothing', async () => {
    ({ app } = await createApp({ connection: inject('redisUrl') }));
    const emails = app.queues.define('emails', { schema: Email });
    await app.ready();
    const bad = app.queues.add('emails', { to: 'not-an-email', subject: 'x' });
    await expect(bad).rejects.toBeInstanceOf(errors.InvalidPayloadError);
    await expect(bad).rejects.toMatchObject({
      code: 'BULWARK_QUEUE_INVALID_PAYLOAD',
      statusCode: 400,
      message: 'Invalid payload for queue "emails": to must match format "email"',
    });
    await expect(app.queues.add('emails', { to: 'a@example.com' })).rejects.toMatchObject({
      message: 'Invalid payload for queue "emails": payload must have property "subject"',
    });
    await expect(
      emails.add({ to: 'a@example.com', subject: 's', extra: 1 } as never),
    ).rejects.toMatchObject({
      message: 'Invalid payload for queue "emails": payload must not have property "extra"',
    });
    const stats = await emails.stats();
    expect(stats.waiting + stats.delayed + stats.active).toBe(0);
  });

  it('answers a route with 400 for a bad payload (the client sees the code and what to fix)', async () => {
    ({ app } = await createApp({ connection: inject('redisUrl') }));
    app.queues.define('emails', { schema: Email });
    app.post('/emails', async (request) => {
      const job = await app!.queues.add('emails', request.body as never);
      return { id: job.id };
    });
    const response = await app.inject({
      method: 'POST',
      url: '/emails',
      payload: { to: 'x', subject: 's' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toStrictEqual({
      statusCode: 400,
      code: 'BULWARK_QUEUE_INVALID_PAYLOAD',
      error: 'Bad Request',
      message: 'Invalid payload for queue "emails": to must match format "email"',
    });
  });

  it('accepts a plain JSON Schema too', async () => {
    ({ app } = await createApp({ connection: inject('redisUrl') }));
    app.queues.define('plain', {
      schema: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
    });
    await app.ready();
    await expect(app.queues.add('plain', { n: 'x' })).rejects.toMatchObject({
      message: 'Invalid payload for queue "plain": n must be integer',
    });
    await expect(app.queues.add('plain', { n: 1 })).resolves.toBeDefined();
  });

  it('applies the default job policy and lets the queue and the job override it', async () => {
    ({ app } = await createApp({ connection: inject('redisUrl') }));
    app.queues.define('a');
    app.queues.define('b', { defaults: { attempts: 5, backoff: { delay: 100 }, removeOnFail: 0 } });
    await app.ready();
    const a = await app.queues.add('a', {});
    expect(a.opts).toMatchObject({
      attempts: 3,
      backoff: { type: 'exponential', delay: 2000, jitter: 0.5 },
      removeOnComplete: 100,
      removeOnFail: 500,
    });
    const b = await app.queues.add('b', {}, { attempts: 2, timeoutMs: 50, delay: 10 });
    expect(b.opts).toMatchObject({
      attempts: 2,
      backoff: { type: 'exponential', delay: 100, jitter: 0.5 },
      removeOnFail: true,
      delay: 10,
      bulwarkTimeoutMs: 50,
    });
    // The per-job deadline survives the round trip through Redis.
    const stored = (await app.queues.get('b').queue?.getJob(String(b.id))) as Job;
    expect((stored.opts as Record<string, unknown>).bulwarkTimeoutMs).toBe(50);
    await expect(app.queues.add('a', {}, { attempts: 0 })).rejects.toMatchObject({
      code: 'BULWARK_QUEUE_INVALID_OPTION',
    });
    // A programmer error from BullMQ passes through as is (not a 503).
    await expect(app.queues.add('a', {}, { jobId: '123' })).rejects.toThrow(
      'Custom Id cannot be integers',
    );
    const first = await app.queues.add('a', { v: 1 }, { jobId: 'same' });
    const again = await app.queues.add('a', { v: 2 }, { jobId: 'same' });
    expect(again.id).toBe(first.id);
  });

  it('rejects unknown queues, duplicate definitions and bad names', async () => {
    ({ app } = await createApp({ connection: inject('redisUrl') }));
    app.queues.define('x');
    expect(() => app!.queues.define('x')).toThrow(errors.InvalidDefinitionError);
    expect(() => app!.queues.define('a:b')).toThrow(/queue name must be/);
    expect(() => app!.queues.define('x.dead')).toThrow(/queue name must be/);
    await expect(app.queues.add('nope', {})).rejects.toMatchObject({
      code: 'BULWARK_QUEUE_UNKNOWN',
    });
    expect(() => app!.queues.process('nope', async () => {})).toThrow(errors.UnknownQueueError);
    expect(() => app!.queues.define('bad', { schema: { type: 'nope' } })).toThrow(/invalid schema/);
    app.queues.process('x', async () => {});
    expect(() => app!.queues.process('x', async () => {})).toThrow(/already has a worker/);
  });
});

describe('disabled (no connection)', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('decorates fastify.queues; add() validates, then throws BULWARK_QUEUE_DISABLED (503)', async () => {
    ({ app } = await createApp({}));
    expect(app.queues.enabled).toBe(false);
    app.queues.define('emails', { schema: Email });
    app.queues.process('emails', async () => {});
    await app.ready();
    await expect(app.queues.add('emails', { to: 'x' })).rejects.toMatchObject({ statusCode: 400 });
    await expect(
      app.queues.add('emails', { to: 'a@example.com', subject: 's' }),
    ).rejects.toMatchObject({ code: 'BULWARK_QUEUE_DISABLED', statusCode: 503 });
    await expect(app.queues.replayDead('emails')).rejects.toBeInstanceOf(errors.DisabledError);
    expect(app.queues.get('emails').queue).toBeUndefined();
  });
});
