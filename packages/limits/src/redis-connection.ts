import type { RedisConnectionLike } from './bounded-store.js';
import { IoredisMissingError } from './errors.js';
import type { RedisClientLike } from './redis-store.js';

/**
 * ioredis settings for the rate limiter's own connection. Each one exists so that a slow or
 * absent Redis costs a request at most `storeTimeoutMs`, never seconds.
 */
export const CONNECTION_OPTIONS = {
  // The offline queue is what stalls the official @fastify/rate-limit when Redis goes away:
  // ioredis keeps every command in memory while it reconnects, so each request waits for the
  // reconnect (or for maxRetriesPerRequest to run out, seconds later) and then fails with a 500.
  // Without it a command on a connection that is not ready fails at once, and the decision is
  // made by the local fallback instead.
  enableOfflineQueue: false,
  // Commands in flight when the connection dropped were already decided locally; sending them
  // again after the reconnect would spend the client's quota twice.
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  // The ready check is an INFO that a blackholed socket never answers, leaving the client stuck
  // in 'connect'; the store's own recovery probe (SCRIPT LOAD with a deadline) replaces it.
  enableReadyCheck: false,
  connectTimeout: 1000,
  // Reconnect quickly at first, then every second at most, forever.
  retryStrategy: (times: number) => Math.min(50 * 2 ** times, 1000),
} as const;

/** The part of the ioredis module the store needs. */
export interface IoredisModule {
  Redis: new (url: string, options: typeof CONNECTION_OPTIONS) => unknown;
}

/**
 * The same settings for an ioredis `Cluster`: no offline queue (a command while the cluster is
 * not ready fails at once and the fallback decides), no resend, the same quick reconnects; its
 * node connections get the single-connection settings above.
 */
export const CLUSTER_OPTIONS = {
  enableOfflineQueue: false,
  enableReadyCheck: false,
  clusterRetryStrategy: (times: number) => Math.min(50 * 2 ** times, 1000),
  redisOptions: {
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
  },
} as const;

interface Duplicable extends RedisClientLike {
  isCluster?: boolean;
  duplicate(...args: unknown[]): RedisConnectionLike;
}

/**
 * Returns a factory of the rate limiter's dedicated connections: from a URL, or as duplicates of
 * a given client (which keep its host, auth and TLS but get the settings above; the app's own
 * client keeps its offline queue and is never reset by this plugin).
 */
export async function connectionFactory(
  source: string | RedisClientLike,
  load: () => Promise<IoredisModule> = () => import('ioredis') as Promise<IoredisModule>,
): Promise<() => RedisConnectionLike> {
  if (typeof source === 'string') {
    let Redis: IoredisModule['Redis'];
    try {
      ({ Redis } = await load());
    } catch (error) {
      // ioredis is an optional peer: only a Redis URL needs it, and without it the raw
      // ERR_MODULE_NOT_FOUND said nothing about what to do.
      if ((error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND') {
        throw new IoredisMissingError({ cause: error });
      }
      throw error;
    }
    return () => new Redis(source, CONNECTION_OPTIONS) as unknown as RedisConnectionLike;
  }
  if (typeof (source as Duplicable).duplicate !== 'function') {
    throw new TypeError('the Redis client has no duplicate(); pass an ioredis client or a URL');
  }
  const client = source as Duplicable;
  // Cluster.duplicate(startupNodes, options): [] keeps the client's own startup nodes.
  if (client.isCluster === true) return () => client.duplicate([], CLUSTER_OPTIONS);
  return () => client.duplicate(CONNECTION_OPTIONS);
}

/** Waits until the connection is ready, or gives up after `timeoutMs` or a failed attempt (the store then starts in fallback). */
export function whenReady(connection: RedisConnectionLike, timeoutMs: number): Promise<boolean> {
  if (connection.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const settle = (ready: boolean) => {
      clearTimeout(timer);
      resolve(ready);
    };
    const timer = setTimeout(() => settle(false), timeoutMs);
    timer.unref();
    connection.on('ready', () => settle(true));
    // A refused connection need not hold up the boot: start in fallback, recover later.
    connection.on('close', () => settle(false));
  });
}
