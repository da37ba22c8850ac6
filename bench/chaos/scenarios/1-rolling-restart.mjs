// Rolling restart: two API instances on one database and one Redis, behind a round-robin proxy
// that routes only to instances whose /health/ready answered 200 at its last poll, and never
// retries. Under steady load each instance in turn is sent SIGTERM, must exit 0, and is started
// again. Not one request may fail: the instance must stay unready-but-serving long enough for
// the balancer to notice, then drain what it still has in flight.
import { setTimeout as sleep } from 'node:timers/promises';
import { createDatabase, startRedis, waitFor } from '@bulwark/testing';
import { account, apiEnv, uniqueTenant } from '../lib/api.mjs';
import { startApi } from '../lib/processes.mjs';
import { startRoundRobinProxy } from '../lib/round-robin-proxy.mjs';
import { startLoad } from '../lib/steady-load.mjs';
import { failed, ms, statusText, summarize, within } from '../lib/windows.mjs';
import { notesTraffic } from './3-postgres-cut.mjs';

const POLL_INTERVAL_MS = 100;
// The app's own shutdown delay: unready but serving, so the balancer stops routing here first.
const SHUTDOWN_DELAY_MS = Number(process.env.CHAOS_SHUTDOWN_DELAY_MS ?? 1_000);

export default {
  name: 'rolling-restart',
  title: 'two instances behind a balancer, restarted one at a time under load',
  async run({ short, check, figure, note, log }) {
    const rate = short ? 80 : 150;
    const settleMs = short ? 2_000 : 5_000;
    note(
      `Two API processes (same database and Redis, \`WORKERS=inline\`, \`SHUTDOWN_DELAY_MS=${SHUTDOWN_DELAY_MS}\`) behind bench/chaos/lib/round-robin-proxy.mjs, which polls each instance's \`/health/ready\` every ${POLL_INTERVAL_MS} ms, routes only to instances whose last poll answered 200, and never retries (an upstream error is answered 502, no ready instance 503). ${rate} req/s through the proxy, at most 32 in flight, of authenticated notes traffic (3 GET /api/v1/notes : 1 POST) for two users. After ${settleMs / 1000} s, instance A gets SIGTERM; once it exited it is started again (a new process on a new port, added to the proxy), and ${settleMs / 1000} s after it is ready the same is done to B. Any non-2xx answer or socket error counts as a failed request.`,
    );
    const redis = await startRedis();
    let database;
    let proxy;
    let load;
    const instances = { A: undefined, B: undefined };
    try {
      database = await createDatabase(undefined, 'bulwark_chaos');
      const env = apiEnv({
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        WORKERS: 'inline',
        SHUTDOWN_DELAY_MS: String(SHUTDOWN_DELAY_MS),
      });
      [instances.A, instances.B] = await Promise.all([startApi(env), startApi(env)]);
      proxy = await startRoundRobinProxy({ pollIntervalMs: POLL_INTERVAL_MS });
      for (const instance of Object.values(instances)) proxy.add(instance.url);
      await waitFor(() => Object.values(instances).every((i) => proxy.isReady(i.url)), {
        what: 'both instances ready at the proxy',
      });
      // Accounts through the proxy: tokens signed by one instance verify on the other.
      const tokens = [];
      for (let i = 0; i < 2; i += 1) {
        tokens.push(await account(proxy.url, uniqueTenant('rolling'), `user${i}@chaos.test`));
      }
      load = startLoad({
        rate,
        concurrency: 32,
        timeoutMs: 10_000,
        next: notesTraffic(proxy.url, tokens),
      });
      const phases = [];
      const exits = {};
      await sleep(settleMs);
      for (const name of ['A', 'B']) {
        const old = instances[name];
        const signalAt = performance.now();
        const exit = await old.stop('SIGTERM');
        const exitedAt = performance.now();
        exits[name] = exit;
        proxy.remove(old.url);
        log(
          `${name} (pid ${old.pid}) exited ${exit.code ?? exit.signal} after ${((exitedAt - signalAt) / 1000).toFixed(2)} s`,
        );
        instances[name] = await startApi(env);
        proxy.add(instances[name].url);
        await waitFor(() => proxy.isReady(instances[name].url), {
          what: `the new ${name} ready at the proxy`,
        });
        const readyAt = performance.now();
        log(
          `${name} restarted as pid ${instances[name].pid}, ready after ${((readyAt - exitedAt) / 1000).toFixed(2)} s`,
        );
        phases.push({ name, signalAt, exitedAt, readyAt, exit });
        await sleep(settleMs);
      }
      const { records, skipped } = await load.stop();
      load = undefined;

      const all = summarize(records);
      figure(
        'load',
        `${rate} req/s through the proxy, ${records.length} requests, ${skipped} skipped`,
      );
      figure(
        'all requests',
        `${statusText(all.statuses)}; p50 ${ms(all.p50)}, p99 ${ms(all.p99)}, max ${ms(all.max)}`,
      );
      for (const phase of phases) {
        const draining = summarize(within(records, phase.signalAt, phase.exitedAt));
        const alone = summarize(within(records, phase.exitedAt, phase.readyAt));
        figure(
          `restart ${phase.name}`,
          `exit ${phase.exit.code ?? phase.exit.signal} ${((phase.exitedAt - phase.signalAt) / 1000).toFixed(2)} s after SIGTERM (${statusText(draining.statuses)}, p99 ${ms(draining.p99)}); new process ready ${((phase.readyAt - phase.exitedAt) / 1000).toFixed(2)} s later (meanwhile ${statusText(alone.statuses)})`,
        );
      }
      figure(
        'proxy',
        `${proxy.counts.noBackend} answered "no ready backend", ${proxy.counts.upstreamErrors} upstream errors`,
      );
      const failures = records.filter(failed);
      check(
        failures.length === 0 && records.length > 0,
        '0 failed requests (non-2xx or socket error) through both restarts',
        `${failures.length} of ${records.length}${failures.length ? `: ${statusText(summarize(failures).statuses)}` : ''}`,
      );
      check(
        exits.A?.code === 0 && exits.B?.code === 0,
        'both instances exit 0 on SIGTERM',
        `A ${exits.A?.code ?? exits.A?.signal}, B ${exits.B?.code ?? exits.B?.signal}`,
      );
    } finally {
      await load?.stop();
      await proxy?.close();
      await Promise.all(Object.values(instances).map((instance) => instance?.stop()));
      await redis.stop();
      await database?.drop();
    }
  },
};
