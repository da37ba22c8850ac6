import fastifyRedis from '@fastify/redis';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';

interface HealthLike {
  register(check: {
    name: string;
    check: (signal: AbortSignal) => Promise<unknown>;
    critical?: boolean;
    timeoutMs?: number;
  }): void;
}

/** How long startup waits for Redis before going on without @fastify/redis. */
const CONNECT_DEADLINE_MS = 3_000;

/**
 * The app's Redis client, registered through @fastify/redis so the rest of the app (and
 * @bulwark/limits, which discovers `fastify.redis`) shares it, plus a non-critical `redis`
 * health check: Redis is shared by every instance, so losing it degrades health and never takes
 * the instance out of rotation.
 *
 * The client fails fast (no offline queue, 2 s command timeout): a request path never waits on a
 * Redis that is gone or hung. @fastify/redis waits for the client to be ready before the app can
 * start, so when Redis does not answer within 3 s at startup the app starts without it: the
 * health check keeps using the (reconnecting) client and `registered` is false, so the caller
 * hands @bulwark/limits the URL instead.
 */
export async function connectRedis(
  app: FastifyInstance,
  url: string,
): Promise<{ client: Redis; registered: boolean }> {
  // Not lazyConnect: @bulwark/limits duplicates this client for its own connection, and a
  // duplicate inherits the option (it would never connect by itself).
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  // Each failed reconnect emits 'error'; the health check reports the outage, not the log.
  client.on('error', (error) => app.log.debug({ err: error }, 'redis connection error'));
  let timer: NodeJS.Timeout | undefined;
  const ready = await new Promise<boolean>((resolve) => {
    if (client.status === 'ready') return resolve(true);
    client.once('ready', () => resolve(true));
    timer = setTimeout(() => resolve(false), CONNECT_DEADLINE_MS);
    timer.unref();
  });
  clearTimeout(timer);
  const registered = ready && client.status === 'ready';
  if (registered) {
    await app.register(fastifyRedis, { client, closeClient: true });
  } else {
    app.log.warn(
      'Redis did not answer at startup: starting without it; it is used once it answers',
    );
    app.addHook('onClose', async () => {
      client.disconnect();
    });
  }
  if (app.hasDecorator('health')) {
    (app as unknown as { health: HealthLike }).health.register({
      name: 'redis',
      critical: false,
      timeoutMs: 2_000,
      check: async () => {
        await client.ping();
      },
    });
  }
  return { client, registered };
}
