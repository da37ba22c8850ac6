import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { BreakerRegistry } from './breaker-registry.js';
import { ResilientDb } from './db.js';
import { databaseFailurePredicate } from './db-errors.js';
import { AlreadyRegisteredError } from './errors.js';
import type { HealthLike, MetricsLike } from './integration.js';
import { type ResilienceOptions, resolveOptions } from './options.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Named circuit breakers (`get`, `create`), retry budgets and bulkheads, from @bulwark/resilience. */
    breakers: BreakerRegistry;
    /**
     * The resilient Postgres pool from @bulwark/resilience. Present only when
     * `db.connectionString` was given; check with `fastify.hasDecorator('db')` otherwise.
     */
    db: ResilientDb;
  }
  interface FastifyContextConfig {
    /** Marks an infrastructure endpoint (probe, metrics): never rate limited or shed, not counted in HTTP metrics. */
    bulwarkProbe?: boolean;
  }
}

const registered = Symbol('bulwark.resilience.registered');

async function bulwarkResilience(
  fastify: FastifyInstance,
  options: ResilienceOptions,
): Promise<void> {
  if ((fastify as unknown as Record<symbol, unknown>)[registered]) {
    throw new AlreadyRegisteredError();
  }
  const resolved = resolveOptions(options);
  fastify.decorate(registered, true);

  const host = fastify as unknown as { metrics?: MetricsLike; health?: HealthLike };
  const metrics = fastify.hasDecorator('metrics') ? host.metrics : undefined;
  const health = fastify.hasDecorator('health') ? host.health : undefined;

  const registry = new BreakerRegistry(resolved.breaker, resolved.retryBudget, { metrics, health });
  fastify.decorate('breakers', registry);

  let db: ResilientDb | undefined;
  const { connectionString } = resolved.db;
  if (connectionString !== undefined) {
    let state = (): string => 'closed';
    const breaker = registry.create('postgres', {
      ...resolved.breaker,
      timeoutMs: resolved.db.queryTimeoutMillis,
      critical: resolved.db.critical,
      ...resolved.db.breaker,
      isFailure: databaseFailurePredicate(() => state()),
    });
    state = () => breaker.state;
    db = new ResilientDb(
      resolved.db,
      breaker,
      registry.retryBudget('postgres'),
      fastify.log.child({ plugin: '@bulwark/resilience' }),
    );
    db.observe(metrics, health);
    fastify.decorate('db', db);
  }

  fastify.addHook('onClose', async () => {
    await db?.close();
    registry.close();
  });
}

export { bulwarkResilience };
export default fp(bulwarkResilience, { name: '@bulwark/resilience', fastify: '5.x' });
