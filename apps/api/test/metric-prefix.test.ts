import health from '@bulwark/health';
import limits from '@bulwark/limits';
import observability from '@bulwark/observability';
import queue from '@bulwark/queue';
import resilience from '@bulwark/resilience';
import { type RedisServer, startRedis, waitFor } from '@bulwark/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, inject, it } from 'vitest';

// metrics.prefix must reach every family of every plugin, not only Node's defaults: the five
// plugins composed in-process on real Redis and real PostgreSQL, each made to record.

describe('metrics.prefix across the five plugins', () => {
  let app: FastifyInstance | undefined;
  let redis: RedisServer | undefined;
  afterEach(async () => {
    await app?.close();
    await redis?.stop();
    app = undefined;
    redis = undefined;
  });

  it('prefixes every family, and the ops page still reads the prefixed ones', async () => {
    redis = await startRedis();
    app = Fastify();
    await app.register(observability, { metrics: { prefix: 'shop_' }, memory: { enabled: false } });
    await app.register(health, { handleSignals: false, production: false, ops: { enabled: true } });
    await app.register(limits, { redis: redis.url });
    await app.register(resilience, { db: { connectionString: inject('databaseUrl') } });
    await app.register(queue, { connection: redis.url });
    const queues = app.queues;
    queues.define('work');
    const done: unknown[] = [];
    queues.process('work', async (job) => {
      done.push(job.data);
    });
    app.get('/x', async () => {
      await app?.db.query('SELECT 1');
      return 'ok';
    });
    await app.ready();
    expect((await app.inject('/x')).statusCode).toBe(200);
    await queues.add('work', { n: 1 });
    await waitFor(() => done.length === 1, { what: 'the job ran' });

    const registry = app.metrics.registry;
    await waitFor(async () => (await registry.metrics()).includes('shop_queue_jobs_total{'), {
      what: 'the job outcome counted',
    });
    const names = (await registry.getMetricsAsJSON()).map((metric) => metric.name);
    expect(names.filter((name) => !name.startsWith('shop_'))).toStrictEqual([]);
    expect(names).toEqual(
      expect.arrayContaining([
        'shop_http_requests_total',
        'shop_nodejs_eventloop_utilization_ratio',
        'shop_process_cpu_seconds_total',
        'shop_health_check_status',
        'shop_rate_limit_decisions_total',
        'shop_rate_limit_store_fallback',
        'shop_load_shedding_in_flight',
        'shop_circuit_breaker_state',
        'shop_circuit_breaker_calls_total',
        'shop_db_pool_connections',
        'shop_queue_jobs_total',
        'shop_queue_depth',
      ]),
    );

    const state = (await app.inject('/ops/state')).json();
    expect(state.rateLimits.decisions.allowed).toBeGreaterThanOrEqual(1);
    expect(state.queues.list).toMatchObject([{ name: 'work', error: null }]);
    expect(state.queues.list[0].meanWaitSeconds).toBeGreaterThanOrEqual(0);
  });
});
