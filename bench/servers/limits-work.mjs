// A route with real per-request work for the overload scenario: GET /hello burns a fixed ~1 ms
// of CPU (a busy loop on the clock, so it costs the same on any machine), then answers like
// servers/bare.mjs. LIMITS=off serves it from bare Fastify; otherwise @bulwark/limits runs with
// shedding on (rate limits out of the way, as in limits-memory.mjs).
import { performance } from 'node:perf_hooks';
import limits from '@bulwark/limits';
import Fastify from 'fastify';

const WORK_MS = Number(process.env.WORK_MS ?? 1);

const app = Fastify();
if (process.env.LIMITS !== 'off') {
  await app.register(limits, {
    store: 'memory',
    global: { max: 1_000_000_000, windowMs: 60_000 },
  });
}
app.get('/hello', async () => {
  const until = performance.now() + WORK_MS;
  while (performance.now() < until) {
    // burn CPU: the work a real handler would do (serialising, templating, hashing)
  }
  return { hello: 'world' };
});
app.get('/ready', { config: { bulwarkProbe: true } }, async () => ({ ok: true }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });

const stop = () => app.close().finally(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
