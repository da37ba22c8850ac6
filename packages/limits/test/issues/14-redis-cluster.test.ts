import { listen, type RedisCluster, startRedisCluster, waitFor } from '@bulwark/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import limits from '../../src/index.js';
import { expectAllAnswered } from '../answered.js';
import { sleep, steadyLoad } from '../load.js';

const HASH_TAG = 'rl';

describe('issue 14: against a three-master Redis Cluster', () => {
  let cluster: RedisCluster;
  const apps: FastifyInstance[] = [];
  const clients: Cluster[] = [];
  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    for (const client of clients.splice(0)) client.disconnect();
    await cluster.waitHealthy(30_000);
  });

  async function build(keyPrefix: string, options: Parameters<typeof limits>[1] = {}) {
    const client = new Cluster([...cluster.nodes]);
    clients.push(client);
    const app = Fastify();
    apps.push(app);
    await app.register(limits, {
      shedding: false,
      redis: client,
      hashTag: HASH_TAG,
      keyPrefix,
      ...options,
    });
    app.get('/hello', async () => ({ hello: 'world' }));
    return { app, url: `${await listen(app)}/hello` };
  }

  it('refuses a Cluster client without a hash tag, naming the option', async () => {
    const client = new Cluster([...cluster.nodes]);
    clients.push(client);
    const app = Fastify();
    apps.push(app);
    await expect(app.register(limits, { redis: client })).rejects.toMatchObject({
      code: 'BULWARK_LIMITS_INVALID_OPTION',
      message: expect.stringContaining('hashTag'),
    });
  });

  it('counts exactly across three instances: limit 50, 150 concurrent requests → exactly 50 allowed', async () => {
    const keyPrefix = `cluster:exact:${Date.now()}:`;
    const urls: string[] = [];
    const instances: FastifyInstance[] = [];
    for (let i = 0; i < 3; i += 1) {
      const { app, url } = await build(keyPrefix, {
        storeTimeoutMs: 5000,
        global: { max: 50, windowMs: 3_600_000 },
        tenant: { max: 1000, windowMs: 60_000, key: () => 'acme' },
      });
      urls.push(url);
      instances.push(app);
    }
    const statuses = await Promise.all(
      Array.from({ length: 150 }, async (_, i) => {
        const response = await fetch(urls[i % 3]!);
        await response.arrayBuffer();
        return response.status;
      }),
    );
    expect(statuses.filter((status) => status === 200)).toHaveLength(50);
    expect(statuses.filter((status) => status === 429)).toHaveLength(100);
    expect(instances.map((app) => app.limits.inFallback)).toStrictEqual([false, false, false]);
    // Both tiers' keys live on the one master of the tag's slot.
    const master = await cluster.masterOf(`{${HASH_TAG}}`);
    expect(await cluster.masterOf(`${keyPrefix}{${HASH_TAG}}global:127.0.0.1`)).toBe(master);
    expect(await cluster.masterOf(`${keyPrefix}{${HASH_TAG}}tenant:acme`)).toBe(master);
  });

  it('answers within the deadline when the master of the slot is killed, limits locally, and recovers without a restart', async () => {
    const { app, url } = await build(`cluster:kill:${Date.now()}:`, {
      storeTimeoutMs: 50,
      recoveryIntervalMs: 100,
      global: { max: 40, windowMs: 60_000 },
    });
    const load = steadyLoad(url, 4);
    await sleep(200);
    await waitFor(() => !app.limits.inFallback, { timeoutMs: 5000, what: 'shared limiting' });
    const master = await cluster.masterOf(`{${HASH_TAG}}`);
    await cluster.servers[master]!.kill();
    const from = load.elapsed();
    await waitFor(() => app.limits.inFallback, { timeoutMs: 5000, what: 'fallback' });
    await waitFor(() => load.since(from).some((sample) => sample.status === 429), {
      timeoutMs: 10_000,
      what: 'a 429 from the local guard',
    });
    await cluster.servers[master]!.start();
    await cluster.waitHealthy(30_000);
    await waitFor(() => !app.limits.inFallback, {
      timeoutMs: 20_000,
      what: 'shared limiting to resume',
    });
    await sleep(200);
    expectAllAnswered(await load.stop(), 'cluster, master of the slot killed');
  });
});
