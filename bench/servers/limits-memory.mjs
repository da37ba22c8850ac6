// Fastify + @bulwark/limits as a service would run it, memory store: per-IP GCRA rate limit on
// every request (limit high enough that the one benchmark client is never limited, so every
// request pays a full decision and gets RateLimit headers), JSON-API security headers, adaptive
// load shedding on. Same route as servers/bare.mjs.
import limits from '@bulwark/limits';
import Fastify from 'fastify';

const app = Fastify();
await app.register(limits, {
  store: 'memory',
  global: { max: 1_000_000_000, windowMs: 60_000 },
});
app.get('/hello', async () => ({ hello: 'world' }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });

const stop = () => app.close().finally(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
