import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { BreakerRegistry } from './breaker-registry.js';
import { ResilientDb } from './db.js';
import { databaseFailurePredicate } from './db-errors.js';
import { AlreadyRegisteredError, InvalidOptionError } from './errors.js';
import type { HealthLike, MetricsLike } from './integration.js';
import { type ResilienceOptions, resolveOptions } from './options.js';
import { RequestDeadline, runWithDeadline } from './request-deadline.js';

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
    /**
     * This route's request budget (ms, from arrival) for the dependency calls made for it
     * (@bulwark/resilience); 0: none. @default the plugin's `request.deadlineMs`
     */
    deadlineMs?: number;
  }
  interface FastifyRequest {
    /**
     * The request's deadline and `signal` (aborts when the client disconnects or the budget is
     * spent), from @bulwark/resilience. Bulwark-wrapped calls inherit it on their own; pass
     * `request.deadline.signal` to anything else you call. `null` on probe routes.
     */
    deadline: RequestDeadline | null;
  }
}

const deadlineKey = Symbol('bulwark.resilience.deadline');

type DeadlineCarrier = { [deadlineKey]?: RequestDeadline };

// Enters the request's deadline for the rest of the hook chain. Entered again at preValidation:
// with a body, the later hooks and the handler run from the request stream's events, in another
// async context (the same two-step as @fastify/request-context).
function enterDeadline(request: FastifyRequest, _reply: FastifyReply, done: () => void): void {
  const deadline = (request as unknown as DeadlineCarrier)[deadlineKey];
  if (deadline) runWithDeadline(deadline, done);
  else done();
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

  // Fastify's requestTimeout is in initialConfig at run time but not in its type.
  const serverTimeout = (fastify.initialConfig as { requestTimeout?: number }).requestTimeout;
  const defaultBudget = resolved.request.deadlineMs || serverTimeout || 0;
  fastify.decorateRequest('deadline', null);
  fastify.addHook('onRoute', (route) => {
    const budget = route.config?.deadlineMs;
    if (budget !== undefined && !(Number.isInteger(budget) && budget >= 0)) {
      throw new InvalidOptionError(
        `route ${String(route.method)} ${route.url} config.deadlineMs must be an integer ≥ 0 (ms; 0 = no deadline), got ${JSON.stringify(budget)}`,
      );
    }
  });
  fastify.addHook('onRequest', (request, reply, done) => {
    const config = request.routeOptions.config;
    if (config.bulwarkProbe === true) {
      done();
      return;
    }
    const deadline = new RequestDeadline(reply.raw, config.deadlineMs ?? defaultBudget);
    request.deadline = deadline;
    (request as unknown as DeadlineCarrier)[deadlineKey] = deadline;
    runWithDeadline(deadline, done);
  });
  fastify.addHook('preValidation', enterDeadline);

  fastify.addHook('onClose', async () => {
    await db?.close();
    registry.close();
  });
}

export { bulwarkResilience };
export default fp(bulwarkResilience, { name: '@bulwark/resilience', fastify: '5.x' });
