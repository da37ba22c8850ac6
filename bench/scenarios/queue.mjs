// Jobs/s through a @bulwark/queue worker vs a raw BullMQ worker with the same concurrency, in
// the same run, against the same Redis. Not an HTTP scenario: the runner calls `run()`.
//
// Each round enqueues JOBS no-op jobs (addBulk, same job options for both, not timed), then
// starts the worker and times until every job has completed. Rounds are interleaved (raw,
// plugin, raw, plugin, …) after one warm-up each, and the median of the rounds is reported.
// What the plugin adds per job: a deadline (AbortController + timer), in-flight
// tracking, duration/wait metrics (a prom-client registry, as with @bulwark/observability),
// and its completed/failed listeners.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import queue from '@bulwark/queue';
import Fastify from 'fastify';

// bullmq is @bulwark/queue's dependency, not the bench's: resolve it from there so both sides
// use the very same BullMQ.
const requireFromQueue = createRequire(import.meta.resolve('@bulwark/queue'));
const { Queue, Worker } = await import(requireFromQueue.resolve('bullmq'));
const promClient = await import(requireFromQueue.resolve('prom-client')).catch(() => undefined);

const JOBS = Number(process.env.QUEUE_BENCH_JOBS ?? 20_000);
const CONCURRENCY = Number(process.env.QUEUE_BENCH_CONCURRENCY ?? 50);
const ROUNDS = Number(process.env.QUEUE_BENCH_ROUNDS ?? 3);
const NAME = 'bench';
// The plugin's default job policy, given to the raw jobs too.
const JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2000, jitter: 0.5 },
  removeOnComplete: 100,
  removeOnFail: 500,
};
const handler = async () => {};

function redisOptions(redisUrl) {
  const url = new URL(redisUrl);
  return { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
}

async function enqueue(redisUrl, prefix) {
  const producer = new Queue(NAME, { connection: redisOptions(redisUrl), prefix });
  for (let start = 0; start < JOBS; start += 1000) {
    const count = Math.min(1000, JOBS - start);
    await producer.addBulk(
      Array.from({ length: count }, (_, i) => ({
        name: NAME,
        data: { n: start + i },
        opts: JOB_OPTIONS,
      })),
    );
  }
  return producer;
}

function countCompletions(worker) {
  return new Promise((resolve, reject) => {
    let done = 0;
    worker.on('completed', () => {
      done += 1;
      if (done === JOBS) resolve();
    });
    worker.on('failed', (_job, error) => reject(error));
  });
}

async function rawRound(redisUrl) {
  const prefix = `bench-raw-${randomUUID().slice(0, 8)}`;
  const producer = await enqueue(redisUrl, prefix);
  const worker = new Worker(NAME, handler, {
    connection: redisOptions(redisUrl),
    prefix,
    concurrency: CONCURRENCY,
    autorun: false,
  });
  const finished = countCompletions(worker);
  const started = performance.now();
  worker.run();
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await worker.close();
  await producer.obliterate({ force: true });
  await producer.close();
  return JOBS / seconds;
}

function metricsStandIn() {
  if (!promClient) return undefined;
  const registry = new promClient.Registry();
  const made = new Map();
  const get = (config, Make) => {
    if (!made.has(config.name))
      made.set(config.name, new Make({ ...config, registers: [registry] }));
    return made.get(config.name);
  };
  return {
    registry,
    counter: (config) => get(config, promClient.Counter),
    gauge: (config) => get(config, promClient.Gauge),
    histogram: (config) => get(config, promClient.Histogram),
  };
}

async function pluginRound(redisUrl) {
  const prefix = `bench-plugin-${randomUUID().slice(0, 8)}`;
  const producer = await enqueue(redisUrl, prefix);
  const app = Fastify({ logger: false });
  const metrics = metricsStandIn();
  if (metrics) app.decorate('metrics', metrics);
  await app.register(queue, { connection: redisUrl, prefix, depthIntervalMs: 60_000 });
  const jobs = app.queues.define(NAME);
  jobs.process(handler, { concurrency: CONCURRENCY });
  const finished = countCompletions(jobs.worker);
  const started = performance.now();
  await app.ready(); // starts the worker
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await app.close();
  await producer.obliterate({ force: true });
  await producer.close();
  return JOBS / seconds;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export default {
  name: 'queue',
  needs: ['redis'],
  title: `raw BullMQ worker vs @bulwark/queue worker (${JOBS} no-op jobs, concurrency ${CONCURRENCY})`,
  target: { label: '@bulwark/queue worker', minRatio: 0.9 },
  async run({ redisUrl }) {
    if (!redisUrl) throw new Error('the queue scenario needs { redisUrl }');
    // Warm-up: one of each, not recorded.
    await rawRound(redisUrl);
    await pluginRound(redisUrl);
    const raw = [];
    const plugin = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      raw.push(await rawRound(redisUrl));
      plugin.push(await pluginRound(redisUrl));
    }
    return [
      { label: 'raw BullMQ worker', jobsPerSec: Math.round(median(raw)) },
      { label: '@bulwark/queue worker', jobsPerSec: Math.round(median(plugin)) },
    ];
  },
};
