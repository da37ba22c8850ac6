// Reference row for the limits scenario: bare Fastify that sends the very response headers
// @bulwark/limits adds (security headers and RateLimit-* with the values of one real decision),
// fixed, from one onRequest hook, with no limiting logic. The gap between this row and bare is
// what the extra headers alone cost Node's HTTP writer; the rest of the limits row is the plugin.
import limits from '@bulwark/limits';
import Fastify from 'fastify';

const probe = Fastify();
await probe.register(limits, { store: 'memory', global: { max: 1_000_000_000, windowMs: 60_000 } });
probe.get('/hello', async () => ({ hello: 'world' }));
const sample = await probe.inject('/hello');
await probe.close();
const bareHeaders = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);
const fixed = Object.fromEntries(
  Object.entries(sample.headers).filter(([name]) => !bareHeaders.has(name)),
);

const app = Fastify();
app.addHook('onRequest', (_request, reply, done) => {
  reply.headers(fixed);
  done();
});
app.get('/hello', async () => ({ hello: 'world' }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });

const stop = () => app.close().finally(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
