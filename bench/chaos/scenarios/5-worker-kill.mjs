// Worker SIGKILLed mid-batch: N outbox emails are enqueued on the API's own `email` queue the way
// its outbox relay does it (job id `outbox-<id>`), the API's worker process (`dist/worker.js`)
// starts sending them, and is SIGKILLed once about a third are sent. A second worker must finish
// the batch: every outbox row sent, nothing dead-lettered. Delivery is at least once, so a job
// that was running at the kill may run twice; delivering is idempotent.
import { setTimeout as sleep } from 'node:timers/promises';
import queue from '@bulwark/queue';
import { createDatabase, startRedis, waitFor } from '@bulwark/testing';
import Fastify from 'fastify';
import { account, apiEnv, uniqueTenant } from '../lib/api.mjs';
import { query } from '../lib/postgres.mjs';
import { startApi, startWorker } from '../lib/processes.mjs';

const JOBS = 10_000;
// The worker's BullMQ settings (the API passes none): a dead worker's jobs stay locked for the
// 30 s lock duration; a stalled-job check (every 30 s, at most one per 30 s across workers) marks
// them, and the next one re-queues them: 60-90 s after the kill, so the bound allows 150 s.
const RECOVERY_WITHIN_MS = 150_000;
const EmailJob = {
  type: 'object',
  properties: { outboxId: { type: 'string', pattern: '^\\d+$' } },
  required: ['outboxId'],
  additionalProperties: false,
};

/** Job ids a worker logged as completed (`job completed` at debug level). */
function completedIds(output) {
  const ids = [];
  for (const line of output.split('\n')) {
    if (!line.includes('"job completed"')) continue;
    try {
      ids.push(JSON.parse(line).jobId);
    } catch {
      // a partial last line of a killed process
    }
  }
  return ids;
}

export default {
  name: 'worker-kill',
  title: `worker SIGKILLed a third into ${JOBS.toLocaleString('en')} email jobs`,
  async run({ check, figure, note, log }) {
    note(
      `The API runs once to migrate the database and register an account, then stops. ${JOBS.toLocaleString('en')} outbox rows are inserted for that account (marked relayed) and their jobs added to the \`email\` queue through @bulwark/queue with the relay's job id (\`outbox-<id>\`) and the queue's default policy (3 attempts). The API's worker process (\`dist/worker.js\`, concurrency 5, \`LOG_LEVEL=debug\` so it logs each completed job) starts; when a third of the rows are \`sent\` it is SIGKILLed and a second worker starts at once. The jobs the dead worker held stay locked for BullMQ's 30 s lock duration (the worker sets no BullMQ options but concurrency), then a stalled-job check re-queues them: BullMQ checks every 30 s, at most once per 30 s across all workers (the dead worker's last check counts), and a job must be seen active by one check and still unlocked at the next, so the batch finishes 60-90 s after the kill whatever its size (the bound allows 150 s). Short mode runs the same ${JOBS.toLocaleString('en')} jobs.`,
    );
    const redis = await startRedis();
    let database;
    let producer;
    const workers = [];
    try {
      database = await createDatabase(undefined, 'bulwark_chaos');
      const env = apiEnv({ DATABASE_URL: database.url, REDIS_URL: redis.url, WORKERS: 'off' });
      const api = await startApi(env);
      try {
        await account(api.url, uniqueTenant('worker'), 'owner@chaos.test');
      } finally {
        await api.stop();
      }
      const [owner] = await query(database.url, 'SELECT id, tenant_id FROM users LIMIT 1');
      const rows = await query(
        database.url,
        `INSERT INTO outbox (tenant_id, user_id, kind, payload, enqueued_at)
         SELECT $1, $2, 'chaos-email', jsonb_build_object('n', n), now() FROM generate_series(1, $3::int) AS n
         RETURNING id::text`,
        [owner.tenant_id, owner.id, JOBS],
      );
      const ids = rows.map((row) => row.id);
      producer = Fastify({ logger: false });
      await producer.register(queue, { connection: redis.url });
      producer.queues.define('email', { schema: EmailJob });
      await producer.ready();
      const enqueueStarted = performance.now();
      for (let start = 0; start < ids.length; start += 500) {
        await Promise.all(
          ids
            .slice(start, start + 500)
            .map((id) => producer.queues.add('email', { outboxId: id }, { jobId: `outbox-${id}` })),
        );
      }
      log(
        `${ids.length} jobs enqueued in ${((performance.now() - enqueueStarted) / 1000).toFixed(1)} s`,
      );
      const sent = async () =>
        Number(
          (
            await query(
              database.url,
              `SELECT count(*) AS n FROM outbox WHERE kind = 'chaos-email' AND status = 'sent'`,
            )
          )[0].n,
        );
      const workerEnv = { ...env, LOG_LEVEL: 'debug' };
      const startedAt = performance.now();
      workers.push(startWorker(workerEnv));
      const sentAtKill = await waitFor(
        async () => {
          const count = await sent();
          return count >= JOBS / 3 && count;
        },
        { timeoutMs: 60_000, intervalMs: 20, what: 'a third of the emails sent' },
      );
      workers[0].child.kill('SIGKILL');
      const killedAt = performance.now();
      await workers[0].exited;
      log(`worker 1 SIGKILLed at ${sentAtKill} sent`);
      workers.push(startWorker(workerEnv));
      let finalSent = 0;
      const doneAt = await waitFor(
        async () => {
          finalSent = await sent();
          return finalSent === JOBS && performance.now();
        },
        { timeoutMs: RECOVERY_WITHIN_MS, intervalMs: 250, what: 'every email sent' },
      ).catch(() => undefined);
      // Give the second worker's completion events a moment to be logged and counted.
      await sleep(500);
      const stats = await producer.queues.stats('email');
      const first = completedIds(workers[0].output());
      const second = completedIds(workers[1].output());
      const firstSet = new Set(first);
      const twice = second.filter((id) => firstSet.has(id)).length;
      const distinct = new Set([...first, ...second]).size;
      const stalled = (workers[1].output().match(/job stalled/g) ?? []).length;
      const workerExit = await workers[1].stop('SIGTERM');

      figure('jobs', `${JOBS} outbox rows and jobs`);
      figure(
        'worker 1',
        `SIGKILLed ${((killedAt - startedAt) / 1000).toFixed(1)} s after start, with ${sentAtKill} rows sent; logged ${first.length} completions`,
      );
      figure(
        'worker 2',
        `logged ${second.length} completions; ${stalled} stalled jobs re-queued; exit on SIGTERM: ${workerExit.code ?? workerExit.signal}`,
      );
      figure(
        'all sent',
        doneAt
          ? `${((doneAt - killedAt) / 1000).toFixed(1)} s after the kill`
          : `no: ${finalSent} of ${JOBS} after ${RECOVERY_WITHIN_MS / 1000} s`,
      );
      figure(
        'processed twice',
        `${twice} jobs completed by both workers (by their logs); up to ${stalled} more ran twice if worker 1 had run them but died before acknowledging (delivery is idempotent)`,
      );
      figure(
        'queue afterwards',
        `waiting ${stats.waiting}, active ${stats.active}, delayed ${stats.delayed}, failed ${stats.failed}, dead ${stats.dead}; ${distinct} distinct job ids completed`,
      );

      check(
        finalSent === JOBS,
        `0 jobs lost: every one of the ${JOBS} outbox rows sent within ${RECOVERY_WITHIN_MS / 1000} s of the kill`,
        `${finalSent} of ${JOBS} sent${doneAt ? `, ${((doneAt - killedAt) / 1000).toFixed(1)} s after the kill` : ''}`,
      );
      check(
        stats.dead === 0 && stats.failed === 0,
        'nothing dead-lettered or failed',
        `dead ${stats.dead}, failed ${stats.failed}`,
      );
    } finally {
      await Promise.all(workers.map((worker) => worker.stop('SIGKILL')));
      await producer?.close();
      await redis.stop();
      await database?.drop();
    }
  },
};
