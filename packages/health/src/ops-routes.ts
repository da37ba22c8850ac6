// The ops page routes: the page itself, its JSON state and the dead-letter replay action.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CheckRegistry } from './check-registry.js';
import { OpsUnknownQueueError, UnauthorizedError } from './errors.js';
import { OPS_PAGE_CSP, opsPageHtml } from './ops-page.js';
import { opsSnapshot } from './ops-snapshot.js';
import type { ResolvedHealthOptions } from './options.js';
import { tokenMatcher } from './routes.js';

interface ReplayQueues {
  names(): string[];
  replayDead(name: string, options?: { limit?: number }): Promise<number>;
}

/** What the ops routes read from the plugin. */
export interface OpsState {
  readonly registry: CheckRegistry;
  readonly shuttingDown: boolean;
  readonly ready: () => boolean;
}

const NO_STORE = 'no-store';

/**
 * Registers `GET <ops.path>` (the page), `GET <ops.path>/state` and
 * `POST <ops.path>/queues/:name/replay`. Says whether they are served: like `/detailed`, not in
 * production without a token. The page itself is static and carries no state, so a browser can
 * open it by address; everything it shows or does goes through the token-checked endpoints.
 */
export function registerOpsRoutes(
  fastify: FastifyInstance,
  options: ResolvedHealthOptions,
  state: OpsState,
): boolean {
  const { ops } = options;
  if (!ops.enabled || (options.production && options.token === undefined)) return false;
  const path = ops.path.length > 1 ? ops.path.replace(/\/+$/, '') : '';
  const config = { bulwarkProbe: true };
  const logLevel = options.logLevel;
  const authorized = options.token === undefined ? undefined : tokenMatcher(options.token);
  const authorize = (request: FastifyRequest) => {
    if (authorized && !authorized(request.headers.authorization)) {
      const error = new UnauthorizedError();
      (error as unknown as { headers: Record<string, string> }).headers = {
        'www-authenticate': 'Bearer realm="ops"',
        'cache-control': NO_STORE,
      };
      throw error;
    }
  };

  const html = opsPageHtml(ops.refreshMs);
  fastify.get(path || '/', { config, logLevel }, async (_request, reply: FastifyReply) => {
    reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', NO_STORE)
      .header('content-security-policy', OPS_PAGE_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY');
    return html;
  });

  fastify.get(`${path}/state`, { config, logLevel }, async (request, reply) => {
    reply.header('cache-control', NO_STORE);
    authorize(request);
    return opsSnapshot(fastify, state.registry, {
      version: options.version,
      ready: state.ready(),
      shuttingDown: state.shuttingDown,
    });
  });

  fastify.post<{ Params: { name: string }; Querystring: { limit?: number } }>(
    `${path}/queues/:name/replay`,
    {
      config,
      logLevel,
      schema: {
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', NO_STORE);
      authorize(request);
      const queues = fastify.hasDecorator('queues')
        ? (fastify as unknown as { queues: ReplayQueues }).queues
        : undefined;
      const name = request.params.name;
      if (!queues?.names().includes(name)) throw new OpsUnknownQueueError(name);
      const limit = request.query.limit;
      const replayed = await queues.replayDead(name, limit === undefined ? {} : { limit });
      request.log.info({ queue: name, replayed }, 'ops: dead jobs replayed');
      return { queue: name, replayed };
    },
  );
  return true;
}
