// The probe routes. Every handler reads cached state (O(1)); only a probe arriving before the
// first results waits, and for at most the longest check timeout.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CheckRegistry } from './check-registry.js';
import { NotReadyError, StartingError, UnauthorizedError } from './errors.js';
import type { ResolvedHealthOptions } from './options.js';

/** The state the routes read, owned by the plugin. */
export interface ProbeState {
  readonly registry: CheckRegistry;
  readonly shuttingDown: boolean;
  readonly startupComplete: boolean;
}

const NO_STORE = 'no-store';

const ErrorBody = (extra: Record<string, unknown>) => ({
  type: 'object',
  required: ['statusCode', 'code', 'error', 'message', 'status'],
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' },
    status: { type: 'string' },
    ...extra,
  },
});
const Names = { type: 'array', items: { type: 'string' } };

function errorBody(error: { statusCode?: number; code: string; message: string }) {
  return {
    statusCode: error.statusCode ?? 503,
    code: error.code,
    error: 'Service Unavailable',
    message: error.message,
  };
}

/** Readiness: 200 when started, not shutting down and no critical check failing. */
export function readiness(state: ProbeState): {
  statusCode: number;
  body: Record<string, unknown>;
} {
  if (state.shuttingDown) {
    return {
      statusCode: 503,
      body: {
        ...errorBody(new NotReadyError('shutting down')),
        status: 'shutting_down',
        failing: [],
      },
    };
  }
  const summary = state.registry.summary();
  if (!state.startupComplete) {
    const waiting = summary.criticalNeverPassed;
    return {
      statusCode: 503,
      body: {
        ...errorBody(
          new NotReadyError(
            waiting.length > 0 ? `starting, waiting for: ${waiting.join(', ')}` : 'starting',
          ),
        ),
        status: 'starting',
        failing: waiting,
      },
    };
  }
  if (summary.status === 'unhealthy') {
    return {
      statusCode: 503,
      body: {
        ...errorBody(
          new NotReadyError(`critical checks failing: ${summary.criticalFailing.join(', ')}`),
        ),
        status: 'unhealthy',
        failing: summary.criticalFailing,
      },
    };
  }
  return { statusCode: 200, body: { status: summary.status } };
}

/** Compares an `Authorization` header with `Bearer <token>` in constant time. */
export function tokenMatcher(token: string): (header: string | undefined) => boolean {
  const expected = createHash('sha256').update(token).digest();
  return (header) => {
    if (!header?.startsWith('Bearer ')) return false;
    const given = createHash('sha256').update(header.slice(7).trim()).digest();
    return timingSafeEqual(given, expected);
  };
}

type Readiness = ReturnType<typeof readiness>;

/**
 * Memoises `readiness()` on its inputs (the summary object is replaced only when a result
 * changes), so a probe under load builds no error object and no body: it returns the last one.
 */
function cachedReadiness(state: ProbeState): () => Readiness {
  let summary: unknown;
  let shuttingDown = false;
  let startupComplete = false;
  let result: Readiness | undefined;
  return () => {
    const current = state.registry.summary();
    if (
      result === undefined ||
      current !== summary ||
      state.shuttingDown !== shuttingDown ||
      state.startupComplete !== startupComplete
    ) {
      summary = current;
      shuttingDown = state.shuttingDown;
      startupComplete = state.startupComplete;
      result = readiness(state);
    }
    return result;
  };
}

/** Registers the probe routes under the prefix; says whether `/detailed` is served. */
export function registerRoutes(
  fastify: FastifyInstance,
  options: ResolvedHealthOptions,
  state: ProbeState,
): { detailed: boolean } {
  const base = options.prefix === '/' ? '' : options.prefix;
  const config = { bulwarkProbe: true };
  const logLevel = options.logLevel;
  const { registry } = state;
  const ready = cachedReadiness(state);

  // Before the first results exist, a probe waits for them: at most the longest check timeout.
  const settle = (): Promise<void> | undefined => registry.firstRuns();

  fastify.get(
    options.prefix,
    {
      config,
      logLevel,
      schema: {
        response: {
          200: {
            type: 'object',
            properties: {
              status: { type: 'string' },
              uptime: { type: 'number' },
              version: { type: 'string' },
              timestamp: { type: 'string' },
            },
          },
        },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', NO_STORE);
      return {
        status: registry.summary().status,
        uptime: Math.round(process.uptime() * 1000) / 1000,
        version: options.version,
        timestamp: new Date().toISOString(),
      };
    },
  );

  // Liveness depends on nothing but this process answering: never on checks, never on shutdown.
  const liveBody = { status: 'ok' } as const;
  fastify.get(
    `${base}/live`,
    {
      config,
      logLevel,
      schema: {
        response: { 200: { type: 'object', properties: { status: { type: 'string' } } } },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', NO_STORE);
      return liveBody;
    },
  );

  fastify.get(
    `${base}/ready`,
    {
      config,
      logLevel,
      schema: {
        response: {
          200: { type: 'object', properties: { status: { type: 'string' } } },
          503: ErrorBody({ failing: Names }),
        },
      },
    },
    async (_request, reply) => {
      const pending = settle();
      if (pending) await pending;
      const result = ready();
      reply.code(result.statusCode as 200 | 503).header('cache-control', NO_STORE);
      return result.body;
    },
  );

  fastify.get(
    `${base}/startup`,
    {
      config,
      logLevel,
      schema: {
        response: {
          200: { type: 'object', properties: { status: { type: 'string' } } },
          503: ErrorBody({ waiting: Names }),
        },
      },
    },
    async (_request, reply) => {
      const pending = settle();
      if (pending) await pending;
      reply.header('cache-control', NO_STORE);
      if (state.startupComplete) return { status: 'started' };
      const waiting = registry.summary().criticalNeverPassed;
      reply.code(503);
      return {
        ...errorBody(
          new StartingError(
            waiting.length > 0
              ? `waiting for critical checks: ${waiting.join(', ')}`
              : 'plugins loading',
          ),
        ),
        status: 'starting',
        waiting,
      };
    },
  );

  // Production without a token: the route is not registered (404) rather than refusing to
  // start, so `register(health)` with no options stays production-safe and never blocks a boot.
  const detailed = options.token !== undefined || !options.production;
  if (detailed) {
    const authorized = options.token === undefined ? undefined : tokenMatcher(options.token);
    fastify.get(
      `${base}/detailed`,
      { config, logLevel },
      async (request: FastifyRequest, reply: FastifyReply) => {
        reply.header('cache-control', NO_STORE);
        if (authorized && !authorized(request.headers.authorization)) {
          const error = new UnauthorizedError();
          (error as unknown as { headers: Record<string, string> }).headers = {
            'www-authenticate': 'Bearer realm="health"',
            'cache-control': NO_STORE,
          };
          throw error;
        }
        const pending = settle();
        if (pending) await pending;
        const summary = registry.summary();
        return {
          status: summary.status,
          ready: ready().statusCode === 200,
          startupComplete: state.startupComplete,
          shuttingDown: state.shuttingDown,
          uptime: Math.round(process.uptime() * 1000) / 1000,
          version: options.version,
          timestamp: new Date().toISOString(),
          checks: registry.report(),
        };
      },
    );
  }
  return { detailed };
}
