// Postgres partitioned for 12 s with the API's own deadlines (issue 15): the fault proxy
// blackholes every byte both ways, so nothing is refused and only client-side deadlines end a
// call. Unlike postgres-cut, nothing is tuned for the fault: DB_QUERY_TIMEOUT_MS, the breaker
// window and REQUEST_DEADLINE_MS keep their defaults. Every request must answer 200 or 503 +
// Retry-After within DB_QUERY_TIMEOUT_MS + 1 s; from 5 s into the cut the breaker answers at
// once; readiness turns 503 while liveness stays 200; after the heal the API serves again by
// itself, with no stuck or leaked pool client.
import { setTimeout as sleep } from 'node:timers/promises';
import { createDatabase, startFaultProxy, throughProxy, waitFor } from '@bulwark/testing';
import { account, apiEnv, scrape, uniqueTenant } from '../lib/api.mjs';
import { startApi } from '../lib/processes.mjs';
import { startSampler } from '../lib/sampler.mjs';
import { startLoad } from '../lib/steady-load.mjs';
import { ms, recoveredFrom, statusText, summarize, within } from '../lib/windows.mjs';
import { notesTraffic } from './3-postgres-cut.mjs';

const POOL_MAX = 10;
const RESET_TIMEOUT_MS = 3_000;
const QUERY_TIMEOUT_MS = 3_000; // the API's default DB_QUERY_TIMEOUT_MS
const CUT_MS = 12_000;
const FAST_FROM_MS = 5_000;
const P99_BOUND_MS = 50;

export default {
  name: 'postgres-partition',
  title: 'PostgreSQL blackholed 12 s under load with default deadlines, then healed',
  async run({ short, check, figure, note, log }) {
    const rate = short ? 60 : 100;
    const warmupMs = short ? 2_000 : 4_000;
    const afterMs = RESET_TIMEOUT_MS + (short ? 5_000 : 8_000);
    const env = {
      DB_POOL_MAX: String(POOL_MAX),
      DB_BREAKER_RESET_TIMEOUT_MS: String(RESET_TIMEOUT_MS),
    };
    note(
      `One API process (no Redis) whose \`DATABASE_URL\` goes through the harness's TCP fault proxy; ${rate} req/s of authenticated notes traffic (3 GET /api/v1/notes : 1 POST), at most 32 in flight. After ${warmupMs / 1000} s the proxy blackholes both directions for ${CUT_MS / 1000} s (a partition: bytes vanish, nothing is refused), then heals. Env: ${Object.entries(
        env,
      )
        .map(([key, value]) => `\`${key}=${value}\``)
        .join(
          ', ',
        )}; everything else at the API's defaults (\`DB_QUERY_TIMEOUT_MS=${QUERY_TIMEOUT_MS}\`, \`REQUEST_DEADLINE_MS=4000\`, \`DB_BREAKER_WINDOW_MS=10000\`). /metrics is scraped every 100 ms, /health/ready and /health/live every 250 ms.`,
    );
    const database = await createDatabase(undefined, 'bulwark_chaos');
    let proxy;
    let api;
    let load;
    let metrics;
    let probes;
    try {
      const target = new URL(database.url);
      proxy = await startFaultProxy({
        target: { host: target.hostname, port: Number(target.port || 5432) },
      });
      api = await startApi(apiEnv({ DATABASE_URL: throughProxy(database.url, proxy), ...env }));
      const pid = api.pid;
      const tokens = [];
      for (let i = 0; i < 2; i += 1) {
        tokens.push(await account(api.url, uniqueTenant('partition'), `user${i}@chaos.test`));
      }
      const pool = async () => {
        const m = await scrape(api.url);
        return {
          state: m.value('circuit_breaker_state', { breaker: 'postgres', state: 'open' }),
          total: m.value('db_pool_connections'),
          idle: m.value('db_pool_connections', { state: 'idle' }),
          waiting: m.value('db_pool_pending_requests'),
        };
      };
      metrics = startSampler(pool, 100);
      const status = (path) =>
        fetch(`${api.url}${path}`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status);
      probes = startSampler(
        async () => ({ ready: await status('/health/ready'), live: await status('/health/live') }),
        250,
      );
      load = startLoad({
        rate,
        concurrency: 32,
        timeoutMs: 15_000,
        next: notesTraffic(api.url, tokens),
      });
      await sleep(warmupMs);
      const cutAt = performance.now();
      proxy.blackhole();
      log('proxy blackholed');
      await sleep(CUT_MS);
      const healAt = performance.now();
      await proxy.heal();
      log('proxy healed');
      await sleep(afterMs);
      const { records } = await load.stop();
      load = undefined;
      // Pool gauges once the load is gone: nothing waiting, nothing stuck busy.
      const settled = await waitFor(
        async () => {
          const value = await pool();
          return value.waiting === 0 && value.idle === value.total && value;
        },
        { timeoutMs: 5_000, intervalMs: 100, what: 'pool back to normal' },
      ).catch(() => undefined);
      const lastPool = settled ?? (await pool());
      const samples = (await metrics.stop()).filter((s) => s.error === undefined);
      metrics = undefined;
      const probeSamples = (await probes.stop()).filter((s) => s.error === undefined);
      probes = undefined;

      const before = summarize(within(records, -Infinity, cutAt));
      // In flight at the cut, or started during it.
      const hit = records.filter((r) => r.start < healAt && (r.end ?? Infinity) > cutAt);
      const limitMs = QUERY_TIMEOUT_MS + 1_000;
      const bad = hit.filter(
        (r) =>
          !(
            r.status === 200 ||
            r.status === 201 ||
            (r.status === 503 && Number(r.retryAfter) >= 1)
          ) || r.ms > limitMs,
      );
      const opened = samples.find((s) => s.t >= cutAt && s.t < healAt && s.value.state === 1);
      const fast = summarize(within(records, cutAt + FAST_FROM_MS, healAt));
      const early = summarize(within(records, cutAt, cutAt + FAST_FROM_MS));
      const cutProbes = probeSamples.filter((s) => s.t >= cutAt && s.t < healAt);
      const liveBad = cutProbes.filter((s) => s.value.live !== 200).length;
      // The postgres check runs every 5 s (2 s timeout): readiness may take that long to notice.
      const readyFrom = cutAt + 7_500;
      const readyLate = cutProbes.filter((s) => s.t >= readyFrom);
      const readyNot503 = readyLate.filter((s) => s.value.ready !== 503).length;
      const firstUnready = cutProbes.find((s) => s.value.ready === 503);
      const recoveredAt = recoveredFrom(records) ?? Number.POSITIVE_INFINITY;
      const recoveryMs = Math.max(0, recoveredAt - healAt);
      const after = summarize(within(records, recoveredAt));
      const maxPool = Math.max(...samples.map((s) => s.value.total));

      figure('load', `${rate} req/s, ${records.length} requests, ${CUT_MS / 1000} s cut`);
      figure('before the cut', `${statusText(before.statuses)}; p99 ${ms(before.p99)}`);
      figure(
        'in flight at or started during the cut',
        `${statusText(summarize(hit).statuses)}; max ${ms(summarize(hit).max)}`,
      );
      figure(
        'breaker opened',
        opened ? `${((opened.t - cutAt) / 1000).toFixed(1)} s into the cut` : 'not during the cut',
      );
      figure(
        `cut, first ${FAST_FROM_MS / 1000} s`,
        `${statusText(early.statuses)}; p50 ${ms(early.p50)}, p99 ${ms(early.p99)}, max ${ms(early.max)}`,
      );
      figure(
        `cut, from ${FAST_FROM_MS / 1000} s`,
        `${statusText(fast.statuses)}; p50 ${ms(fast.p50)}, p99 ${ms(fast.p99)}, max ${ms(fast.max)}`,
      );
      figure(
        'probes during the cut',
        `/health/ready first 503 ${firstUnready ? `${((firstUnready.t - cutAt) / 1000).toFixed(1)} s in` : 'never'}; non-503 after ${((readyFrom - cutAt) / 1000).toFixed(1)} s: ${readyNot503} of ${readyLate.length}; /health/live non-200: ${liveBad} of ${cutProbes.length}`,
      );
      figure(
        'after the heal',
        `100 % success from ${(recoveryMs / 1000).toFixed(2)} s after it: ${statusText(after.statuses)}`,
      );
      figure(
        'pool',
        `max db_pool_connections ${maxPool}; after the load: total ${lastPool.total}, idle ${lastPool.idle}, waiting ${lastPool.waiting}`,
      );

      check(
        bad.length === 0 && hit.length > 0,
        `every /api/v1 request in flight or arriving during the cut answered 200 or 503 + Retry-After within DB_QUERY_TIMEOUT_MS + 1 s = ${limitMs / 1000} s`,
        `${hit.length - bad.length} of ${hit.length}; others: ${statusText(summarize(bad).statuses)}, max ${ms(summarize(bad).max)}`,
      );
      check(
        fast.count >= 50 && fast.p99 <= P99_BOUND_MS && fast.failed === fast.statuses['503'],
        `from ${FAST_FROM_MS / 1000} s into the cut, 503s answer with p99 ≤ ${P99_BOUND_MS} ms`,
        `p99 ${ms(fast.p99)} over ${fast.count} requests (${statusText(fast.statuses)}); breaker opened ${opened ? `${((opened.t - cutAt) / 1000).toFixed(1)} s in` : 'never'}`,
      );
      check(
        readyLate.length > 0 && readyNot503 === 0 && liveBad === 0 && cutProbes.length > 0,
        `/health/ready 503 (from ${((readyFrom - cutAt) / 1000).toFixed(1)} s in) and /health/live 200 during the cut`,
        `ready non-503 in ${readyNot503} of ${readyLate.length} late samples; live non-200 in ${liveBad} of ${cutProbes.length}`,
      );
      check(
        recoveryMs <= RESET_TIMEOUT_MS + 5_000 && after.count > 0 && api.running && api.pid === pid,
        `serves again within DB_BREAKER_RESET_TIMEOUT_MS + 5 s = ${(RESET_TIMEOUT_MS + 5_000) / 1000} s of the heal, no restart`,
        `${(recoveryMs / 1000).toFixed(2)} s, then ${after.count - after.failed} of ${after.count} succeeded; pid ${pid} ${api.running ? 'still running' : 'exited'}`,
      );
      check(
        settled !== undefined && maxPool <= POOL_MAX,
        'pool gauges back to normal after the heal (0 waiting, every client idle), never above DB_POOL_MAX',
        `total ${lastPool.total}, idle ${lastPool.idle}, waiting ${lastPool.waiting}; max total ${maxPool}`,
      );
    } finally {
      await load?.stop();
      await metrics?.stop();
      await probes?.stop();
      await api?.stop();
      await proxy?.close();
      await database.drop();
    }
  },
};
