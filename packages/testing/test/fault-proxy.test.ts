import pg from 'pg';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { type FaultProxy, startFaultProxy, throughProxy } from '../src/index.js';

function pgTarget(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 5432) };
}

describe('fault proxy in front of real PostgreSQL', () => {
  let proxy: FaultProxy;
  let url: string;
  const clients: pg.Client[] = [];

  async function connectClient(options: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url, ...options });
    client.on('error', () => undefined);
    clients.push(client);
    await client.connect();
    return client;
  }

  beforeEach(async () => {
    const databaseUrl = inject('databaseUrl');
    proxy = await startFaultProxy({ target: pgTarget(databaseUrl) });
    url = throughProxy(databaseUrl, proxy);
  });
  afterEach(async () => {
    await proxy.close();
    await Promise.allSettled(clients.splice(0).map((client) => client.end()));
  });

  it('passes queries through while healthy', async () => {
    const client = await connectClient();
    const { rows } = await client.query<{ one: number }>('SELECT 1 AS one');
    expect(rows).toStrictEqual([{ one: 1 }]);
    expect(proxy.connections).toBe(1);
  });

  it('cut makes a query on an open connection fail; after heal the next query succeeds', async () => {
    const client = await connectClient();
    await client.query('SELECT 1');
    proxy.cut();
    await expect(client.query('SELECT 1')).rejects.toThrow(
      /Connection terminated|ECONNRESET|not queryable/,
    );
    await proxy.heal();
    const fresh = await connectClient();
    const { rows } = await fresh.query<{ two: number }>('SELECT 2 AS two');
    expect(rows).toStrictEqual([{ two: 2 }]);
  });

  it('refuse makes new connections fail with ECONNREFUSED until heal', async () => {
    await proxy.refuse();
    await expect(connectClient()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await proxy.heal();
    const client = await connectClient();
    expect((await client.query('SELECT 1 AS ok')).rows).toStrictEqual([{ ok: 1 }]);
  });

  it('blackhole accepts but never answers, so the client times out on its own deadline', async () => {
    proxy.blackhole();
    await expect(connectClient({ connectionTimeoutMillis: 300 })).rejects.toThrow(/timeout/i);
    await proxy.heal();
    const client = await connectClient({ query_timeout: 300 });
    proxy.blackhole();
    await expect(client.query('SELECT 1')).rejects.toThrow(/timeout/i);
  });

  it('latency delays every round trip by at least the injected amount', async () => {
    const client = await connectClient();
    proxy.latency(150);
    const started = performance.now();
    await client.query('SELECT 1');
    // A lower bound only: the query cannot come back sooner than the delay in each direction.
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    proxy.latency(0);
    await client.query('SELECT 1');
  });

  it('rejects a negative latency, naming the value', () => {
    expect(() => proxy.latency(-1)).toThrow('latency must be ≥ 0 ms, got -1');
  });
});
