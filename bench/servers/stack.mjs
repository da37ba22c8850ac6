// Fastify + the Bulwark plugins, registered in the reference API's order (DESIGN.md), as a
// service would run them. The same GET /hello as servers/bare.mjs.
//
//   PLUGINS   comma list of observability, health, limits, resilience, queue; default all five
//   STORE     the rate-limit store: memory (default) or redis (needs REDIS_URL)
//   WORK_MS   CPU each /hello burns (busy loop on the clock), for the overload scenario; 0
//   SHEDDING  off: @bulwark/limits without load shedding (to measure capacity apart from it)
//
// With observability, requests are logged at info (JSON, one completion line each) to a file
// that is removed on exit. resilience runs a real pg pool (DATABASE_URL) and queue a real BullMQ
// connection (REDIS_URL); /hello touches neither, so their rows show what they add to a request
// that does not use them. Rate limits are high enough that the bench client is never limited,
// so every request pays a full decision.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import health from '@bulwark/health';
import limits from '@bulwark/limits';
import observability, { serverOptions } from '@bulwark/observability';
import queue from '@bulwark/queue';
import resilience from '@bulwark/resilience';
import Fastify from 'fastify';

const ALL = ['observability', 'health', 'limits', 'resilience', 'queue'];
const plugins = new Set((process.env.PLUGINS || ALL.join(',')).split(','));
const unknown = [...plugins].filter((name) => !ALL.includes(name));
if (unknown.length > 0) throw new Error(`PLUGINS: unknown ${unknown.join(', ')}; have ${ALL}`);
const store = process.env.STORE || 'memory';
const workMs = Number(process.env.WORK_MS ?? 0);
const need = (name) => {
  if (!process.env[name]) throw new Error(`stack.mjs needs ${name} (the runner sets it)`);
  return process.env[name];
};

const logFile = join(tmpdir(), `bulwark-bench-stack-${process.pid}.log`);
const app = Fastify(
  plugins.has('observability')
    ? serverOptions({ level: 'info', pretty: false, file: logFile })
    : {},
);
if (plugins.has('observability')) await app.register(observability);
if (plugins.has('health')) {
  await app.register(health, { production: true, shutdownDelayMs: 0 });
  app.health.register({ name: 'always-ok', check: async () => ({ ok: 1 }) });
}
if (plugins.has('limits')) {
  await app.register(limits, {
    store,
    ...(store === 'redis' ? { redis: need('REDIS_URL') } : {}),
    keyPrefix: `bench:${process.pid}:`,
    global: { max: 1_000_000_000, windowMs: 60_000 },
    ...(process.env.SHEDDING === 'off' ? { shedding: false } : {}),
  });
}
if (plugins.has('resilience')) {
  await app.register(resilience, { db: { connectionString: need('DATABASE_URL'), max: 10 } });
}
if (plugins.has('queue')) {
  await app.register(queue, { connection: need('REDIS_URL'), prefix: `bench-${process.pid}` });
  app.queues.define('email');
}
app.get('/hello', async () => {
  if (workMs > 0) {
    const until = performance.now() + workMs;
    while (performance.now() < until) {
      // burn CPU: the work a real handler would do (serialising, templating, hashing)
    }
  }
  return { hello: 'world' };
});
app.get('/ready', { config: { bulwarkProbe: true } }, async () => ({ ok: true }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });

function stop() {
  app.close().finally(() => {
    rmSync(logFile, { force: true });
    process.exit(0);
  });
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
