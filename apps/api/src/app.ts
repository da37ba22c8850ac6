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
import { createPasswords } from './domain/passwords.js';
import { installErrorHandler } from './error-handler.js';
import { emailJobs, processEmails, type QueuesLike } from './jobs/email.js';
import { startOutboxRelay } from './jobs/outbox-relay.js';
import { connectRedis } from './redis.js';
import { adminRoutes } from './routes/admin.js';
import { authRoutes } from './routes/auth.js';
import { helloRoutes } from './routes/hello.js';
import { meRoutes } from './routes/me.js';
import { notesRoutes } from './routes/notes.js';
import { ErrorBody } from './routes/schemas.js';
import { systemRoutes } from './routes/system.js';
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

  await app.register(
    observability,
    config.METRICS_TOKEN ? { metrics: { token: config.METRICS_TOKEN } } : {},
  );
  await app.register(health, {
    production,
    version: '0.1.0',
    ...(config.HEALTH_TOKEN ? { token: config.HEALTH_TOKEN } : {}),
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
  });
  await app.register(resilience, {
    db: {
      connectionString: databaseUrl,
      // PGlite runs one statement at a time behind a 10-connection multiplexer.
      min: embedded ? 1 : config.DB_POOL_MIN,
      max: embedded ? 5 : config.DB_POOL_MAX,
      connectionTimeoutMillis: config.DB_CONNECTION_TIMEOUT_MS,
      idleTimeoutMillis: config.DB_IDLE_TIMEOUT_MS,
      statementTimeoutMillis: config.DB_STATEMENT_TIMEOUT_MS,
      // The client-side deadline of one call (connection wait included) follows the configured
      // timeouts: a server that stops answering (dropped packets) never runs statement_timeout,
      // and the plugin's fixed 35 s default would hold each pooled connection that long.
      queryTimeoutMillis: config.DB_CONNECTION_TIMEOUT_MS + config.DB_STATEMENT_TIMEOUT_MS,
      critical: true,
      breaker: {
        resetTimeoutMs: config.DB_BREAKER_RESET_TIMEOUT_MS,
        windowMs: config.DB_BREAKER_WINDOW_MS,
      },
    },
  });
  const db: Db = app.db;
  await app.register(queue, config.REDIS_URL ? { connection: config.REDIS_URL } : {});

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
  if (queues?.enabled && config.WORKERS === 'inline') processEmails(queues, db);
  startOutboxRelay(app, jobs);

  await app.register(helloRoutes);
  await app.register(systemRoutes, { db });
  await app.register(authRoutes, { db, expiresIn: config.JWT_EXPIRES_IN, passwords });
  await app.register(
    async (api) => {
      await api.register(meRoutes, { db });
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
