import Fastify from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';
import resilience, {
  type Breaker,
  type BreakerRegistry,
  type RequestDeadline,
  type ResilienceOptions,
  type ResilientDb,
  retry,
} from '../../src/index.js';

describe('types', () => {
  it('registers with no options and with every option form', () => {
    const app = Fastify();
    app.register(resilience);
    app.register(resilience, {});
    app.register(resilience, {
      breaker: { windowType: 'count', windowSize: 50, slowCallDurationMs: 1000, critical: true },
      retryBudget: { ratio: 0.1, minRetriesPerSecond: 5, windowMs: 10_000 },
      db: {
        connectionString: 'postgres://localhost/app',
        max: 10,
        queryTimeoutMillis: 3000,
        breaker: { resetTimeoutMs: 5000, consecutiveTimeouts: 3 },
      },
      request: { deadlineMs: 4000 },
    });
    // @ts-expect-error deadlineMs is a number
    app.register(resilience, { request: { deadlineMs: '4s' } });
    // @ts-expect-error wrong type
    app.register(resilience, { breaker: { windowType: 'sliding' } });
    // @ts-expect-error unknown key
    app.register(resilience, { nope: true });
    expectTypeOf<ResilienceOptions['db']>().not.toBeAny();
  });

  it('types the decorators and the route config', () => {
    const app = Fastify();
    expectTypeOf(app.breakers).toEqualTypeOf<BreakerRegistry>();
    expectTypeOf(app.db).toEqualTypeOf<ResilientDb>();
    expectTypeOf(app.breakers.create('x')).toEqualTypeOf<Breaker>();
    expectTypeOf(app.breakers.get('x')).toEqualTypeOf<Breaker | undefined>();
    expectTypeOf(app.db.query<{ id: number }>('SELECT 1')).resolves.toHaveProperty('rows');
    app.get('/health', { config: { bulwarkProbe: true } }, async () => 'ok');
    // @ts-expect-error bulwarkProbe is a boolean
    app.get('/x', { config: { bulwarkProbe: 'yes' } }, async () => 'ok');
    app.get('/report', { config: { deadlineMs: 1000 } }, async (request) => {
      expectTypeOf(request.deadline).toEqualTypeOf<RequestDeadline | null>();
      expectTypeOf(request.deadline?.signal).toEqualTypeOf<AbortSignal | undefined>();
      return 'ok';
    });
    // @ts-expect-error deadlineMs is a number
    app.get('/y', { config: { deadlineMs: 'soon' } }, async () => 'ok');
    expectTypeOf(app.breakers.currentDeadline()).toEqualTypeOf<RequestDeadline | undefined>();
  });

  it('types retry results', () => {
    expectTypeOf(retry(async () => 42)).resolves.toEqualTypeOf<number>();
  });
});
