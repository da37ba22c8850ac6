// As servers/limits-memory.mjs, with the rate-limit state in Redis (REDIS_URL): one EVALSHA per
// request through the plugin's own bounded connection (50 ms deadline, local fallback).
import limits from '@bulwark/limits';
import Fastify from 'fastify';

if (!process.env.REDIS_URL) throw new Error('limits-redis.mjs needs REDIS_URL');
const app = Fastify();
await app.register(limits, {
  store: 'redis',
  redis: process.env.REDIS_URL,
  keyPrefix: `bench:${process.pid}:`,
  global: { max: 1_000_000_000, windowMs: 60_000 },
});
app.get('/hello', async () => ({ hello: 'world' }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });

const stop = () => app.close().finally(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
