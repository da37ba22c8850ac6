import { type Static, Type } from '@sinclair/typebox';
import type { Job } from 'bullmq';
import Fastify from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';
import queue, {
  bulwarkQueue,
  type DeadJob,
  type DefinedQueue,
  errors,
  type QueueOptions,
  type QueueStats,
} from '../../src/index.js';

const Email = Type.Object({ to: Type.String(), subject: Type.String() });
type Email = Static<typeof Email>;

declare module '../../src/index.js' {
  interface QueueDataMap {
    invoices: { invoiceId: number };
  }
}

describe('@bulwark/queue types', () => {
  it('registers with no options and with every option form', async () => {
    const app = Fastify();
    await app.register(queue);
    await app.register(bulwarkQueue, {
      connection: 'redis://127.0.0.1:6379',
      prefix: 'app',
      defaults: {
        attempts: 5,
        backoff: { type: 'fixed', delay: 100, jitter: 0 },
        removeOnComplete: 10,
        removeOnFail: 10,
        timeoutMs: 1000,
      },
      enqueueTimeoutMs: 500,
      drainTimeoutMs: 1000,
      depthIntervalMs: 5000,
      consumerLivenessMs: 30_000,
      redisCheckCritical: true,
    });
    await app.register(queue, { connection: { host: '127.0.0.1', port: 6379, db: 1 } });
    // @ts-expect-error connection must be a URL string or ioredis options
    await app.register(queue, { connection: 6379 });
    // @ts-expect-error unknown option
    await app.register(queue, { nope: true });
    expectTypeOf<QueueOptions['drainTimeoutMs']>().toEqualTypeOf<number | undefined>();
  });

  it('types a defined queue from its TypeBox schema end to end', () => {
    const app = Fastify();
    const emails = app.queues.define('emails', { schema: Email });
    expectTypeOf(emails).toEqualTypeOf<DefinedQueue<Email>>();
    expectTypeOf(emails.add).parameter(0).toEqualTypeOf<Email>();
    expectTypeOf(emails.add({ to: 'a', subject: 'b' })).resolves.toEqualTypeOf<Job<Email>>();
    // @ts-expect-error missing subject
    emails.add({ to: 'a' });
    emails.process(async (job, signal) => {
      expectTypeOf(job.data).toEqualTypeOf<Email>();
      expectTypeOf(signal).toEqualTypeOf<AbortSignal>();
      return job.data.subject.length;
    });
    emails.process(async () => {}, { concurrency: 4, lockDurationMs: 1000 });
    // @ts-expect-error unknown process option
    emails.process(async () => {}, { concurency: 4 });
    expectTypeOf(emails.dead()).resolves.toEqualTypeOf<DeadJob<Email>[]>();
    expectTypeOf(emails.stats()).resolves.toEqualTypeOf<QueueStats>();
    expectTypeOf(emails.replayDead({ limit: 5 })).resolves.toEqualTypeOf<number>();
  });

  it('types fastify.queues by name through QueueDataMap', () => {
    const app = Fastify();
    app.queues.add('invoices', { invoiceId: 1 }, { delay: 10, attempts: 2, jobId: 'inv-1' });
    // @ts-expect-error invoiceId must be a number
    app.queues.add('invoices', { invoiceId: '1' });
    // @ts-expect-error unknown add option
    app.queues.add('invoices', { invoiceId: 1 }, { retries: 2 });
    app.queues.process('invoices', async (job) => {
      expectTypeOf(job.data).toEqualTypeOf<{ invoiceId: number }>();
    });
    // Names not in the map take unknown.
    app.queues.add('anything', { free: 'form' });
    expectTypeOf(app.queues.get('invoices')).toEqualTypeOf<DefinedQueue<{ invoiceId: number }>>();
    expectTypeOf(app.queues.enabled).toEqualTypeOf<boolean>();
    const typed = app.queues.define<{ n: number }>('numbers');
    expectTypeOf(typed.add).parameter(0).toEqualTypeOf<{ n: number }>();
  });

  it('exposes the route config flag and the errors', () => {
    const app = Fastify();
    app.get('/probe', { config: { bulwarkProbe: true } }, async () => 'ok');
    // @ts-expect-error bulwarkProbe is a boolean
    app.get('/bad', { config: { bulwarkProbe: 'yes' } }, async () => 'ok');
    expectTypeOf(errors).toHaveProperty('UnavailableError');
    expectTypeOf(errors).toHaveProperty('InvalidPayloadError');
  });
});
