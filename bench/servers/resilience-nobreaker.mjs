// The same GET /hello as resilience-breaker.mjs, with Postgres cut the same way (fault proxy in
// front of DATABASE_URL, blackholed from the start) and the same pool settings, but a postgres
// breaker that never trips (minimumCalls 1e9) and no retries: what a service without a breaker
// does. Every request waits for the connection timeout (or for a pooled connection, which times
// out the same) before its 503. (Built on fastify.db because pg is not a bench dependency.)

import resilience from '@bulwark/resilience';
import { startFaultProxy, throughProxy } from '@bulwark/testing';
import Fastify from 'fastify';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl)
  throw new Error('DATABASE_URL is required (the bench runner sets it: needs postgres)');
const connectionTimeoutMillis = Number(process.env.CONNECT_TIMEOUT_MS ?? 2000);
const target = new URL(databaseUrl);
const proxy = await startFaultProxy({
  target: { host: target.hostname, port: Number(target.port || 5432) },
});

const app = Fastify();
await app.register(resilience, {
  db: {
    connectionString: throughProxy(databaseUrl, proxy),
    max: 20,
    connectionTimeoutMillis,
    retryAttempts: 1,
    breaker: { minimumCalls: 1_000_000_000 },
  },
});
app.get('/hello', async () => {
  const { rows } = await app.db.query("SELECT 'world' AS hello");
  return rows[0];
});
app.get('/ready', async () => ({ ready: true }));
await app.ready();
proxy.blackhole();
proxy.cut();
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
