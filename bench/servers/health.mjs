// Fastify + @bulwark/health with one critical check that never settles (issue 4): every run is
// failed and aborted at its 1 s timeout, so GET /health/ready answers 503 from the cached
// result. The hang must cost the probe nothing. GET /hello is bare.mjs's route, for readiness.
import health from '@bulwark/health';
import Fastify from 'fastify';

const app = Fastify();
await app.register(health, { production: false, shutdownDelayMs: 0 });
app.health.register({
  name: 'hangs-forever',
  timeoutMs: 1_000,
  intervalMs: 1_000,
  check: () => new Promise(() => undefined),
});
app.get('/hello', async () => ({ hello: 'world' }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
