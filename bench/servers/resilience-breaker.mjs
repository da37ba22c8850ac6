// GET /hello reads from Postgres through @bulwark/resilience's fastify.db (postgres breaker on),
// with Postgres cut from the start: the server puts a TCP fault proxy in front of DATABASE_URL
// and blackholes it (connections accepted, nothing forwarded), so every connection attempt would
// wait connectionTimeoutMillis. The breaker is tripped before listening (the first queries of
// any cut service trip it the same way), so the run measures the steady fail-fast path:
// 503 BULWARK_DB_UNAVAILABLE + Retry-After. GET /ready answers 200 for the runner's ready check.

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
    breaker: { minimumCalls: 10 },
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
await Promise.allSettled(Array.from({ length: 10 }, () => app.db.query('SELECT 1')));
if (app.breakers.get('postgres').state !== 'open') {
  throw new Error(`the postgres breaker did not open: ${app.breakers.get('postgres').state}`);
}
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
