import health from '@bulwark/health';
import limits, { serverOptions as loadSafeServerOptions } from '@bulwark/limits';
import observability, { serverOptions as observabilityServerOptions } from '@bulwark/observability';
import queue from '@bulwark/queue';
import resilience from '@bulwark/resilience';
import fastifyCors from '@fastify/cors';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyInstance,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import auth, { type Principal } from './auth.js';
import type { Config } from './config.js';
import type { Db } from './database/db.js';
import { resilientDbOptions } from './database/pool-options.js';
import { createPasswords } from './domain/passwords.js';
import { installErrorHandler } from './error-handler.js';
import { emailJobs, processEmails, type QueuesLike } from './jobs/email.js';
import { type RunningOutboxRelay, startOutboxRelay } from './jobs/outbox-relay.js';
import { connectRedis } from './redis.js';
import { adminRoutes } from './routes/admin.js';
import { authRoutes } from './routes/auth.js';
import { gdprRoutes } from './routes/gdpr.js';
import { helloRoutes } from './routes/hello.js';
import { meRoutes } from './routes/me.js';
import { notesRoutes } from './routes/notes.js';
import { ErrorBody } from './routes/schemas.js';
import { systemRoutes } from './routes/system.js';
import { shutdownStep } from './shutdown-steps.js';
import { installTextGuard } from './text-guard.js';

/** Helmet options for the OpenAPI UI page: its own scripts and styles, still never framed. */
const docsHelmet = {
  contentSecurityPolicy: {
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      frameAncestors: ["'none'"],
    },
  },
};

function principalOf(request: FastifyRequest): Principal | undefined {
  return (request as FastifyRequest & { user?: Principal | null }).user ?? undefined;
}

export interface AppDependencies {
  config: Config;
  /** postgres:// URL the routes use: the configured server or embedded PGlite. */
  databaseUrl: string;
  /** Whether that is embedded PGlite (one statement at a time: a small pool). */
  embedded: boolean;
  /** The JWT secret actually in force (generated when unset outside production). */
  jwtSecret: string;
  /** Stops the embedded database: the last shutdown step, after the pool has ended. */
  stopDatabase?: () => Promise<void>;
}

/**
 * Builds the reference API: the five Bulwark plugins in the order DESIGN.md fixes
 * (observability → health → limits → resilience → queue), then the routes.
 */
export async function buildApp({
  config,
  databaseUrl,
  embedded,
  jwtSecret,
  stopDatabase,
}: AppDependencies): Promise<FastifyInstance> {
  const production = config.NODE_ENV === 'production';
  const serverOptions: FastifyServerOptions = {
    // Body limit, request/headers/keep-alive timeouts (a trickled body is cut off), proto
    // poisoning refused, trustProxy: from the validated config, through @bulwark/limits.
    ...loadSafeServerOptions({
      REQUEST_TIMEOUT_MS: String(config.REQUEST_TIMEOUT_MS),
      HEADERS_TIMEOUT_MS: String(config.HEADERS_TIMEOUT_MS),
      KEEP_ALIVE_TIMEOUT_MS: String(config.KEEP_ALIVE_TIMEOUT_MS),
      BODY_LIMIT_BYTES: String(config.BODY_LIMIT_BYTES),
      TRUST_PROXY: config.TRUST_PROXY,
    }),
    // JSON logs with deep credential redaction (pretty in development), one line per request.
    ...observabilityServerOptions({
      level: config.LOG_LEVEL,
      pretty: config.NODE_ENV === 'development',
    }),
  };
  const app = Fastify(serverOptions);
  // Shutdown steps are registered in the reverse of the order they run: see shutdown-steps.ts.
  if (stopDatabase) shutdownStep(app, 'embedded database stopped', stopDatabase);

  await app.register(
    observability,
    config.METRICS_TOKEN ? { metrics: { token: config.METRICS_TOKEN } } : {},
  );
  await app.register(health, {
    production,
    version: '0.1.0',
    ...(config.HEALTH_TOKEN ? { token: config.HEALTH_TOKEN } : {}),
    // GET /ops: the page is static; its state and replay endpoints require HEALTH_TOKEN (and are
    // not served in production without it).
    ops: { enabled: true },
    ...(config.SHUTDOWN_DELAY_MS === undefined
      ? {}
      : { shutdownDelayMs: config.SHUTDOWN_DELAY_MS }),
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  });
  // The OpenAPI UI is a page, not JSON: it needs its own scripts and styles. Added before the
  // plugins so this onRoute hook runs before @bulwark/limits resolves route config.
  app.addHook('onRoute', (route) => {
    if (route.url === '/docs' || route.url.startsWith('/docs/')) {
      route.config = {
        ...route.config,
        limits: { ...route.config?.limits, securityHeaders: docsHelmet },
      };
    }
  });
  // One Redis client for the app, through @fastify/redis: @bulwark/limits finds `fastify.redis`
  // (and opens its own duplicate with fail-fast settings), and the `redis` health check uses it.
  const redis = config.REDIS_URL ? await connectRedis(app, config.REDIS_URL) : undefined;
  await app.register(limits, {
    // Redis unreachable at startup: @fastify/redis is not registered (it would wait for Redis);
    // limits gets the URL and degrades to memory until Redis answers.
    ...(redis && !redis.registered ? { redis: config.REDIS_URL } : {}),
    // Registration and login spend ~100 ms hashing (scrypt, N=2^15) on purpose. The shedder's
    // default 3 ms latency floor suits microsecond handlers: with it, one hash in a 100 ms window
    // of fast requests reads as overload, the limit collapses to 1, and every request arriving
    // while a hash runs is answered 503 at a few requests per second (bench/chaos redis-kill).
    shedding: { latencyFloorMs: 100 },
    global: { max: config.RATE_LIMIT_GLOBAL_MAX, windowMs: config.RATE_LIMIT_GLOBAL_WINDOW_MS },
    // Tenant and user come from the verified token: unauthenticated routes skip these tiers.
    tenant: {
      max: config.RATE_LIMIT_TENANT_MAX,
      windowMs: config.RATE_LIMIT_TENANT_WINDOW_MS,
      key: (request) => principalOf(request)?.tenantId,
    },
    user: {
      max: config.RATE_LIMIT_USER_MAX,
      windowMs: config.RATE_LIMIT_USER_WINDOW_MS,
      key: (request) => principalOf(request)?.sub,
    },
    auth: {
      max: config.RATE_LIMIT_AUTH_MAX,
      windowMs: config.RATE_LIMIT_AUTH_WINDOW_MS,
      key: (request) => {
        const body = request.body as { tenant?: unknown; email?: unknown } | undefined;
        if (typeof body?.tenant !== 'string' || typeof body.email !== 'string') return undefined;
        return `${body.tenant}:${body.email.toLowerCase()}`;
      },
    },
    // One account guessed from many IPs, and one IP spraying many accounts (@bulwark/limits).
    authAccount: {
      max: config.RATE_LIMIT_AUTH_ACCOUNT_MAX,
      windowMs: config.RATE_LIMIT_AUTH_ACCOUNT_WINDOW_MS,
    },
    authIp: { max: config.RATE_LIMIT_AUTH_IP_MAX, windowMs: config.RATE_LIMIT_AUTH_IP_WINDOW_MS },
  });
  // The pool's own flag goes in the log, so the order it shows is the order things happened.
  const poolEnded = () => ({ poolEnded: app.hasDecorator('db') && app.db.pool.ended });
  shutdownStep(app, 'pool ended', undefined, poolEnded);
  await app.register(resilience, {
    // Every db/breaker/retry/queue call made for a request shares its budget; a client that
    // disconnects cancels them (a running statement included).
    request: { deadlineMs: config.REQUEST_DEADLINE_MS },
    db: resilientDbOptions(config, databaseUrl, embedded),
  });
  const db: Db = app.db;
  // After resilience: runs before the pool ends. Before the queue: runs after its workers drain.
  let relay: RunningOutboxRelay | undefined;
  shutdownStep(
    app,
    'outbox relay stopped',
    () => relay?.stop(config.SHUTDOWN_TIMEOUT_MS / 4),
    poolEnded,
  );
  shutdownStep(app, 'queue workers drained');
  await app.register(
    queue,
    // Draining gets half the shutdown deadline: the relay, the pool and the database need the rest.
    config.REDIS_URL
      ? {
          connection: config.REDIS_URL,
          drainTimeoutMs: Math.floor(config.SHUTDOWN_TIMEOUT_MS / 2),
          consumerLivenessMs: config.QUEUE_CONSUMER_LIVENESS_MS,
        }
      : {},
  );
  shutdownStep(app, 'in-flight requests finished; draining queue workers');
  app.addHook('preClose', function stopAccepting(done) {
    app.log.info({ step: 'stop accepting' }, 'shutdown step: stop accepting');
    done();
  });

  installErrorHandler(app);
  installTextGuard(app);
  app.addSchema(ErrorBody);
  await app.register(fastifyCors, {
    origin: config.CORS_ORIGIN
      ? config.CORS_ORIGIN.split(',').map((origin) => origin.trim())
      : true,
  });
  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Bulwark reference API',
        version: '0.1.0',
        description: 'A multi-tenant notes service composing every Bulwark plugin.',
      },
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  await app.register(auth, {
    secret: jwtSecret,
    expiresIn: config.JWT_EXPIRES_IN,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    db,
  });
  const passwords = await createPasswords();
  app.addHook('onClose', () => passwords.close());

  const queues = app.hasDecorator('queues')
    ? (app as unknown as { queues: QueuesLike }).queues
    : undefined;
  const jobs = emailJobs({ db, queues, log: app.log });
  if (queues?.enabled && config.WORKERS === 'inline') processEmails(queues, db, app.log);
  relay = startOutboxRelay(app.log, jobs, {
    intervalMs: 500,
    sweepIntervalMs: config.OUTBOX_SWEEP_INTERVAL_MS,
    staleAfterMs: config.OUTBOX_STALE_AFTER_MS,
  });

  await app.register(helloRoutes);
  await app.register(systemRoutes, { db });
  await app.register(authRoutes, { db, expiresIn: config.JWT_EXPIRES_IN, passwords });
  await app.register(
    async (api) => {
      await api.register(meRoutes, { db });
      await api.register(gdprRoutes, { db });
      await api.register(notesRoutes, { db });
      await api.register(adminRoutes, {
        db,
        jobs,
        invitationExpiresIn: config.INVITATION_EXPIRES_IN,
      });
    },
    { prefix: '/api/v1' },
  );
  return app;
}
