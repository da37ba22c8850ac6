import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import resilience, { bulwarkResilience, errors } from '../src/index.js';
import { decorateStandIns } from './helpers/stand-ins.js';

describe('@bulwark/resilience registration', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('registers with no options and declares its name and Fastify range', async () => {
    app = Fastify();
    await app.register(resilience);
    await app.ready();
    const meta = (resilience as unknown as Record<symbol, { name: string; fastify: string }>)[
      Symbol.for('plugin-meta')
    ];
    expect(meta).toMatchObject({ name: '@bulwark/resilience', fastify: '5.x' });
    expect(typeof bulwarkResilience).toBe('function');
    expect(app.hasPlugin('@bulwark/resilience')).toBe(true);
  });

  it('decorates fastify.breakers always, and fastify.db only with a connection string', async () => {
    app = Fastify();
    await app.register(resilience);
    await app.ready();
    expect(app.hasDecorator('breakers')).toBe(true);
    expect(app.hasDecorator('db')).toBe(false);
    expect(app.breakers.create('payments').state).toBe('closed');
  });

  it('rejects an unknown option, naming it', async () => {
    app = Fastify();
    await expect(
      app.register(resilience, { nope: true } as unknown as Record<string, never>),
    ).rejects.toMatchObject({
      code: 'BULWARK_RESILIENCE_INVALID_OPTION',
      message: expect.stringMatching(/\bnope\b/),
    });
  });

  it('rejects an out-of-range option with its path and value', async () => {
    app = Fastify();
    await expect(
      app.register(resilience, { breaker: { failureRateThreshold: 150 } }),
    ).rejects.toThrow(/breaker\.failureRateThreshold.*150/);
    const second = Fastify();
    await expect(second.register(resilience, { db: { min: 5, max: 2 } })).rejects.toThrow(
      /db\.min must be ≤ db\.max \(2\), got 5/,
    );
    await second.close();
  });

  it('fails with BULWARK_RESILIENCE_ALREADY_REGISTERED on a second registration', async () => {
    app = Fastify();
    app.register(resilience);
    app.register(resilience);
    await expect(app.ready()).rejects.toMatchObject({
      code: 'BULWARK_RESILIENCE_ALREADY_REGISTERED',
    });
  });

  it('throws BULWARK_RESILIENCE_BREAKER_EXISTS when a breaker name is taken', async () => {
    app = Fastify();
    await app.register(resilience);
    const breaker = app.breakers.create('search');
    expect(app.breakers.get('search')).toBe(breaker);
    expect(app.breakers.get('nope')).toBeUndefined();
    expect(() => app!.breakers.create('search')).toThrow(errors.BreakerExistsError);
  });
});

describe('breaker errors over HTTP', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('answers 503 with Retry-After and the JSON error body when a breaker is open', async () => {
    app = Fastify();
    await app.register(resilience, { breaker: { resetTimeoutMs: 12_000 } });
    const breaker = app.breakers.create('payments');
    app.get('/pay', () => breaker.fire(async () => ({ paid: true })));
    breaker.open();
    const response = await app.inject('/pay');
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('12');
    expect(response.json()).toStrictEqual({
      statusCode: 503,
      code: 'BULWARK_RESILIENCE_BREAKER_OPEN',
      error: 'Service Unavailable',
      message: 'A dependency is unavailable; retry after the number of seconds in Retry-After',
    });
  });

  it('answers 503 with Retry-After: 1 when a bulkhead is full', async () => {
    app = Fastify();
    await app.register(resilience);
    const bulkhead = app.breakers.bulkhead('reports', { maxConcurrent: 1 });
    let release!: () => void;
    const busy = bulkhead.run(
      () =>
        new Promise<void>((resolve) => {
          release = resolve;
        }),
    );
    app.get('/report', () => bulkhead.run(async () => 'ok'));
    const response = await app.inject('/report');
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.json()).toMatchObject({ code: 'BULWARK_RESILIENCE_BULKHEAD_FULL' });
    release();
    await busy;
  });
});

describe('metrics and health integration', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('reports breaker state and calls, retries, budget and bulkheads in fastify.metrics', async () => {
    app = Fastify();
    const { metrics } = decorateStandIns(app);
    await app.register(resilience, { retryBudget: { ratio: 0, minRetriesPerSecond: 0.1 } });
    const breaker = app.breakers.create('search', { minimumCalls: 1, windowType: 'count' });
    await breaker.fire(async () => 1);
    await breaker.fire(async () => Promise.reject(new Error('x'))).catch(() => undefined);
    await breaker.fire(async () => 1).catch(() => undefined);
    const budget = app.breakers.retryBudget('search');
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    app.breakers.bulkhead('reports', { maxConcurrent: 2 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('circuit_breaker_state{breaker="search",state="open"} 1');
    expect(text).toContain('circuit_breaker_state{breaker="search",state="closed"} 0');
    expect(text).toContain('circuit_breaker_state{breaker="search",state="half-open"} 0');
    expect(text).toContain('circuit_breaker_calls_total{breaker="search",outcome="success"} 1');
    expect(text).toContain('circuit_breaker_calls_total{breaker="search",outcome="failure"} 1');
    expect(text).toContain('circuit_breaker_calls_total{breaker="search",outcome="rejected"} 1');
    expect(text).toContain('retry_attempts_total{dependency="search"} 1');
    expect(text).toContain('retry_budget_exhausted_total{dependency="search"} 1');
    expect(text).toContain('bulkhead_in_use{bulkhead="reports"} 0');
    expect(text).toContain('bulkhead_queued{bulkhead="reports"} 0');
  });

  it('registers a health check per breaker: open fails it, critical follows the option', async () => {
    app = Fastify();
    const { health } = decorateStandIns(app);
    await app.register(resilience);
    const soft = app.breakers.create('search');
    app.breakers.create('payments', { critical: true });
    expect(health.checks.map((c) => [c.name, c.critical])).toStrictEqual([
      ['breaker:search', false],
      ['breaker:payments', true],
    ]);
    expect(await health.run('breaker:search')).toBe('pass');
    soft.open();
    expect(await health.run('breaker:search')).toMatch(
      /^fail: circuit breaker search is open \(manual\)/,
    );
  });

  it('works without metrics or health', async () => {
    app = Fastify();
    await app.register(resilience);
    const breaker = app.breakers.create('x', { minimumCalls: 1 });
    await breaker.fire(async () => Promise.reject(new Error('x'))).catch(() => undefined);
    expect(breaker.state).toBe('open');
    app.breakers.retryBudget('x').tryRetry();
    await app.breakers.bulkhead('y').run(async () => 1);
  });
});
