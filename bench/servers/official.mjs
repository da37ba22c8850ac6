// The stack a team would otherwise assemble from official and popular plugins, configured to do
// what servers/stack.mjs does: Fastify's own pino logger at info (one line per request, to a
// file), @fastify/helmet, @fastify/rate-limit on Redis (REDIS_URL, limit high enough never to
// trigger), fastify-metrics (route-labelled RED histograms + Node defaults) and
// @fastify/under-pressure (event-loop/heap load shedding). The same GET /hello as bare.mjs.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import Fastify from 'fastify';
import metrics from 'fastify-metrics';
import Redis from 'ioredis';

if (!process.env.REDIS_URL) throw new Error('official.mjs needs REDIS_URL (the runner sets it)');
const logFile = join(tmpdir(), `bulwark-bench-official-${process.pid}.log`);
const redis = new Redis(process.env.REDIS_URL, { connectTimeout: 500, maxRetriesPerRequest: 1 });

const app = Fastify({ logger: { level: 'info', file: logFile } });
await app.register(metrics, { endpoint: '/metrics' });
await app.register(underPressure, { maxEventLoopDelay: 1000, maxEventLoopUtilization: 0.98 });
await app.register(helmet);
await app.register(rateLimit, {
  redis,
  nameSpace: `bench:${process.pid}:`,
  max: 1_000_000_000,
  timeWindow: 60_000,
  skipOnError: true,
});
app.get('/hello', async () => ({ hello: 'world' }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });

function stop() {
  app.close().finally(() => {
    redis.disconnect();
    rmSync(logFile, { force: true });
    process.exit(0);
  });
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
