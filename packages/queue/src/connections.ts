import type { FastifyBaseLogger } from 'fastify';
import { Redis, type RedisOptions } from 'ioredis';
import { settlesWithin } from './deadline.js';

/**
 * The producer connection: one per app, shared by every queue's producer and the DLQ. With the
 * offline queue off, a command issued while Redis is unreachable fails at once instead of waiting
 * for a reconnect; `add()` also races `enqueueTimeoutMs` for a connection that hangs.
 */
export function createProducerConnection(connection: string | RedisOptions): Redis {
  return createRedis(connection, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
}

/**
 * A worker connection: BullMQ requires `maxRetriesPerRequest: null` so its blocking commands
 * wait out a reconnect instead of failing the worker loop. BullMQ duplicates it for the blocking
 * connection.
 */
export function createWorkerConnection(connection: string | RedisOptions): Redis {
  return createRedis(connection, { maxRetriesPerRequest: null, enableOfflineQueue: true });
}

function createRedis(connection: string | RedisOptions, overrides: RedisOptions): Redis {
  const redis =
    typeof connection === 'string'
      ? new Redis(connection, overrides)
      : new Redis({ ...connection, ...overrides });
  // BullMQ listens too and forwards errors to the Queue/Worker, where they are logged; this
  // listener only keeps ioredis from printing "Unhandled error event" before that.
  redis.on('error', () => {});
  return redis;
}

/** Quits politely, then disconnects if Redis does not answer within `ms`. */
export async function closeRedis(redis: Redis, ms: number): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status === 'connecting' || redis.status === 'connect') {
    // Closing mid-handshake makes ioredis' ready check (INFO) reject unhandled when the offline
    // queue is off; let the handshake finish (bounded) first.
    await settlesWithin(
      new Promise<void>((resolve) => {
        redis.once('ready', resolve);
        redis.once('end', resolve);
        redis.once('error', resolve);
      }),
      500,
    );
  }
  if (redis.status !== 'ready') {
    // Not connected (Redis down, or reconnecting): nothing to say goodbye to.
    redis.disconnect();
    return;
  }
  const quit = redis.quit().catch(() => {});
  if (!(await settlesWithin(quit, ms))) redis.disconnect();
}

/**
 * Logs connection errors at warn, at most once per `everyMs` per source, counting the rest, so a
 * Redis outage (an error per reconnect attempt) does not flood the log.
 */
export function throttledErrorLogger(log: FastifyBaseLogger, everyMs = 10_000) {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (source: string, error: Error) => {
    const now = Date.now();
    const entry = last.get(source);
    if (entry && now - entry.at < everyMs) {
      entry.suppressed += 1;
      return;
    }
    last.set(source, { at: now, suppressed: 0 });
    log.warn(
      { source, err: error, suppressed: entry?.suppressed ?? 0 },
      `@bulwark/queue: Redis error (${source}): ${error.message}`,
    );
  };
}

/**
 * Whether a Redis call failed because Redis is unreachable or refusing (an outage) rather than
 * because of the request: the stream is closed or not writeable, the connection was refused,
 * reset or timed out, or Redis replied with an error (OOM, READONLY after a failover, …).
 */
export function isConnectionError(error: Error | undefined): boolean {
  return (
    error?.name === 'ReplyError' ||
    /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|max retries|MaxRetriesPerRequest/i.test(
      error?.message ?? '',
    )
  );
}
