import health from '@bulwark/health';
import resilience from '@bulwark/resilience';
import { listen, type RedisServer, startRedis, waitFor } from '@bulwark/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import queue from '../src/index.js';
import { uniquePrefix } from './helpers.js';

// A hung Redis (SIGSTOP: connections stay open, nothing answers, nothing is refused) is shared by
// every instance; it must degrade health, never unready the fleet.
describe('Redis hung (SIGSTOP of the harness redis-server)', () => {
  let redis: RedisServer;
  let app: FastifyInstance | undefined;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });
  afterEach(async () => {
    redis.resume();
    await app?.close();
    app = undefined;
  });

  async function start(options: { consumerCheckCritical?: boolean; critical?: boolean } = {}) {
    app = Fastify();
    await app.register(health, { handleSignals: false, checkIntervalMs: 200, checkTimeoutMs: 200 });
    await app.register(queue, {
      connection: redis.url,
      prefix: uniquePrefix(),
      enqueueTimeoutMs: 300,
      ...(options.consumerCheckCritical === undefined
        ? {}
        : { consumerCheckCritical: options.consumerCheckCritical }),
    });
    const emails = app.queues.define<{ to: string }>('emails');
    const sent: string[] = [];
    emails.process(
      async (job) => {
        sent.push(job.data.to);
      },
      options.critical === undefined ? {} : { critical: options.critical },
    );
    const url = await listen(app);
    await waitFor(() => fetch(`${url}/health/ready`).then((r) => r.status === 200), {
      what: 'ready before the fault',
    });
    return { url, emails, sent };
  }

  async function failing(url: string): Promise<string[]> {
    const { checks } = (await (await fetch(`${url}/health/detailed`)).json()) as {
      checks: Record<string, { status: string }>;
    };
    return Object.entries(checks)
      .filter(([, check]) => check.status === 'fail')
      .map(([name]) => name)
      .sort();
  }

  it('keeps /health/ready 200 (degraded), bounds add(), and delivers jobs again once Redis resumes', async () => {
    const { url, emails, sent } = await start();
    redis.hang();
    await waitFor(async () => (await failing(url)).length === 2, {
      timeoutMs: 5000,
      what: 'both queue checks failing on the hung Redis',
    });
    expect(await failing(url)).toStrictEqual(['queue:emails:consumer', 'queue:redis']);
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toStrictEqual({ status: 'degraded' });
    expect(((await (await fetch(`${url}/health`)).json()) as { status: string }).status).toBe(
      'degraded',
    );
    // add() answers within enqueueTimeoutMs (+ slack), never hangs.
    const started = performance.now();
    await expect(emails.add({ to: 'during@example.test' })).rejects.toMatchObject({
      code: 'BULWARK_QUEUE_UNAVAILABLE',
      statusCode: 503,
    });
    expect(performance.now() - started).toBeLessThan(300 + 1000);

    redis.resume();
    await waitFor(async () => (await failing(url)).length === 0, {
      timeoutMs: 10_000,
      what: 'every check passing after Redis resumes',
    });
    await emails.add({ to: 'after@example.test' });
    await waitFor(() => sent.includes('after@example.test'), { what: 'the job after resume' });
  });

  it('add() made for a request is bounded by what is left of the request’s deadline', async () => {
    app = Fastify();
    await app.register(resilience);
    await app.register(queue, { connection: redis.url, prefix: uniquePrefix() }); // 2 s enqueue
    const emails = app.queues.define<{ to: string }>('emails');
    app.post('/signup', { config: { deadlineMs: 300 } }, async () => {
      await emails.add({ to: 'hung@example.test' });
      return { ok: true };
    });
    const url = await listen(app);
    await emails.add({ to: 'warm@example.test' });
    redis.hang();
    const started = performance.now();
    const response = await fetch(`${url}/signup`, { method: 'POST' });
    const elapsed = performance.now() - started;
    expect(response.status).toBe(503);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // bounded by the 300 ms budget, far from the 2 s enqueueTimeoutMs (generous: shared cores)
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1500);
  });

  it('the consumer check is critical when the app says so (plugin option or per queue)', async () => {
    const { url } = await start({ critical: true });
    redis.hang();
    await waitFor(() => fetch(`${url}/health/ready`).then((r) => r.status === 503), {
      timeoutMs: 5000,
      what: 'readiness 503 from the critical consumer check',
    });
    const body = (await (await fetch(`${url}/health/ready`)).json()) as { failing: string[] };
    expect(body.failing).toStrictEqual(['queue:emails:consumer']);
    redis.resume();
    await app!.close();
    app = undefined;

    const second = await start({ consumerCheckCritical: true });
    const detailed = (await (await fetch(`${second.url}/health/detailed`)).json()) as {
      checks: Record<string, { critical: boolean }>;
    };
    expect(detailed.checks['queue:emails:consumer']?.critical).toBe(true);
    expect(detailed.checks['queue:redis']?.critical).toBe(false);
  });
});
