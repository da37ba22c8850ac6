import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { type RedisServer, startRedis, waitFor } from '../src/index.js';

describe('startRedis', () => {
  let server: RedisServer | undefined;
  let client: Redis | undefined;
  afterEach(async () => {
    client?.disconnect();
    await server?.stop();
    server = undefined;
    client = undefined;
  });

  it('gives every test run its own redis-server on a free port', async () => {
    const shared = new Redis(inject('redisUrl'), { lazyConnect: true, maxRetriesPerRequest: 0 });
    await shared.connect();
    expect(await shared.ping()).toBe('PONG');
    expect(inject('redisUrl')).not.toBe('redis://127.0.0.1:6379');
    shared.disconnect();
  });

  it('can be killed and started again on the same port, and a client reconnects', async () => {
    server = await startRedis();
    client = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    client.on('error', () => undefined);
    await client.set('before', '1');
    expect(await client.get('before')).toBe('1');

    await server.kill();
    expect(server.running).toBe(false);
    await expect(client.ping()).rejects.toThrow();

    await server.start();
    expect(server.running).toBe(true);
    const pong = await waitFor(() => client?.ping(), { what: 'PING after restart' });
    expect(pong).toBe('PONG');
    // SIGKILL with persistence off: the restarted server starts empty.
    expect(await client.get('before')).toBeNull();
  });

  it('names the binary and the fix when redis-server cannot run', async () => {
    await expect(startRedis({ binary: '/nonexistent/redis-server' })).rejects.toThrow(
      /cannot run "\/nonexistent\/redis-server".*apt-get install -y redis-server/,
    );
  });
});
