// Postgres slow: the fault proxy delays every chunk between the API and PostgreSQL by 3 s each
// way, so every statement takes ≥ 6 s, past the `postgres` breaker's slow-call threshold. The
// breaker must open on slowness alone (no failures), and the connections (in-flight database
// work) must never exceed the pool's bound however many requests pile up.
import { setTimeout as sleep } from 'node:timers/promises';
import { createDatabase, startFaultProxy, throughProxy } from '@bulwark/testing';
import { account, apiEnv, detailedHealth, scrape, uniqueTenant } from '../lib/api.mjs';
import { startApi } from '../lib/processes.mjs';
import { startSampler } from '../lib/sampler.mjs';
import { startLoad } from '../lib/steady-load.mjs';
import { ms, recoveredFrom, statusText, summarize, within } from '../lib/windows.mjs';
import { notesTraffic } from './3-postgres-cut.mjs';

const POOL_MAX = 10;
const LATENCY_MS = 3_000;
const RESET_TIMEOUT_MS = 8_000;
// @bulwark/resilience's breaker defaults, which the API does not override (it has no env for them).
const SLOW_CALL_MS = 5_000;
const MINIMUM_CALLS = 10;

const calls = (metrics, outcome) =>
  metrics.value('circuit_breaker_calls_total', { breaker: 'postgres', outcome }) || 0;

export default {
  name: 'postgres-slow',
  title: 'PostgreSQL slowed past the breaker’s slow-call threshold',
  async run({ short, check, figure, note, log }) {
    const rate = short ? 60 : 100;
    const holdMs = short ? 2_000 : 5_000;
    const env = {
      DB_POOL_MIN: String(POOL_MAX),
      DB_POOL_MAX: String(POOL_MAX),
      DB_BREAKER_RESET_TIMEOUT_MS: String(RESET_TIMEOUT_MS),
      // Deadlines above the ≥ 6 s statements, so they end slow, not timed out: this scenario is
      // about slowness alone (postgres-partition covers calls that outlive their deadline).
      DB_QUERY_TIMEOUT_MS: '15000',
      REQUEST_DEADLINE_MS: '20000',
    };
    note(
      `One API process (no Redis), \`DATABASE_URL\` through the fault proxy, ${rate} req/s of notes traffic (3 GET : 1 POST), at most 32 in flight. After 3 s the proxy delays every chunk by ${LATENCY_MS} ms in each direction, so a statement on an open connection takes ≥ ${(2 * LATENCY_MS) / 1000} s. The API has no environment variable for the breaker's slow-call settings, so @bulwark/resilience's defaults apply: a call of ≥ ${SLOW_CALL_MS / 1000} s is slow, and the breaker trips when ≥ 80 % of the calls of its 10 s window (≥ ${MINIMUM_CALLS} calls) were slow. Env: ${Object.entries(
        env,
      )
        .map(([key, value]) => `\`${key}=${value}\``)
        .join(
          ', ',
        )} (the open period outlasts one 5 s health-check interval, so /health/detailed shows the trip reason). The latency stays until the breaker has been open ${holdMs / 1000} s, then is removed.`,
    );
    note(
      'In-flight database work is bounded by the pool (the API has no separate bulkhead): measured as the TCP connections the fault proxy carries (every statement needs one) and as `db_pool_connections`, sampled every 100 ms. Requests beyond it wait for a connection (`db_pool_pending_requests`), are answered 503 `BULWARK_DB_POOL_EXHAUSTED` after `DB_CONNECTION_TIMEOUT_MS`, or are shed by @bulwark/limits (503 `BULWARK_LIMITS_OVERLOADED`) once latency soars.',
    );
    const database = await createDatabase(undefined, 'bulwark_chaos');
    let proxy;
    let api;
    let load;
    let sampler;
    let healthSampler;
    try {
      const target = new URL(database.url);
      proxy = await startFaultProxy({
        target: { host: target.hostname, port: Number(target.port || 5432) },
      });
      api = await startApi(apiEnv({ DATABASE_URL: throughProxy(database.url, proxy), ...env }));
      const tokens = [];
      for (let i = 0; i < 2; i += 1) {
        tokens.push(await account(api.url, uniqueTenant('slow'), `user${i}@chaos.test`));
      }
      sampler = startSampler(async () => {
        const connections = proxy.connections;
        const metrics = await scrape(api.url);
        return {
          connections,
          state: metrics.value('circuit_breaker_state', { breaker: 'postgres', state: 'open' }),
          pool: metrics.value('db_pool_connections'),
          waiting: metrics.value('db_pool_pending_requests'),
          slow: calls(metrics, 'slow'),
          failures: calls(metrics, 'failure') + calls(metrics, 'timeout'),
        };
      }, 100);
      healthSampler = startSampler(async () => {
        const report = await detailedHealth(api.url);
        return report.checks['breaker:postgres']?.lastError ?? null;
      }, 500);
      load = startLoad({
        rate,
        concurrency: 32,
        timeoutMs: 60_000,
        next: notesTraffic(api.url, tokens),
      });
      await sleep(3_000);
      const slowAt = performance.now();
      const atSlow = sampler.samples.at(-1)?.value;
      proxy.latency(LATENCY_MS);
      log(`latency ${LATENCY_MS} ms each way`);
      const opened = await (async () => {
        const deadline = slowAt + 40_000;
        while (performance.now() < deadline) {
          const found = sampler.first((value) => value.state === 1, slowAt);
          if (found) return found;
          await sleep(100);
        }
        return undefined;
      })();
      log(opened ? 'breaker open' : 'breaker did not open within 40 s');
      await sleep(holdMs);
      const healAt = performance.now();
      await proxy.heal();
      log('latency removed');
      await sleep(RESET_TIMEOUT_MS + 4_000);
      const { records, skipped } = await load.stop();
      load = undefined;
      const samples = (await sampler.stop()).filter((sample) => sample.error === undefined);
      sampler = undefined;
      const reasons = (await healthSampler.stop())
        .map((sample) => sample.value)
        .filter((text) => typeof text === 'string' && text.includes('is open ('));
      healthSampler = undefined;

      const tripReason = /is open \(([^)]+)\)/.exec(reasons[0] ?? '')?.[1];
      const beforeTrip = samples.filter((s) => s.t >= slowAt && (!opened || s.t <= opened.t));
      const atTrip = opened?.value ?? samples.at(-1)?.value;
      const slowCalls = (atTrip?.slow ?? 0) - (atSlow?.slow ?? 0);
      const failures = (atTrip?.failures ?? 0) - (atSlow?.failures ?? 0);
      const during = samples.filter((s) => s.t >= slowAt && s.t <= healAt);
      const maxConnections = Math.max(...during.map((s) => s.value.connections));
      const maxPool = Math.max(...during.map((s) => s.value.pool));
      const maxWaiting = Math.max(...during.map((s) => s.value.waiting));
      const slowPhase = summarize(within(records, slowAt, opened?.t ?? healAt));
      const openPhase = within(records, opened?.t ?? healAt, healAt);
      const open = summarize(openPhase);
      const unavailable = openPhase.filter(
        (record) => record.code === 'BULWARK_DB_UNAVAILABLE' && Number(record.retryAfter) >= 1,
      ).length;
      const recoveredAt = recoveredFrom(records);

      figure(
        'load',
        `${rate} req/s, ${records.length} requests, ${skipped} skipped (all 32 slots busy)`,
      );
      figure(
        'breaker opened',
        opened
          ? `${((opened.t - slowAt) / 1000).toFixed(1)} s after the latency began, reason: ${tripReason ?? 'not seen'}`
          : 'never',
      );
      figure(
        'postgres breaker calls, latency → trip',
        `${slowCalls} slow, ${failures} failed or timed out (${beforeTrip.length} scrapes)`,
      );
      figure(
        'slow phase (latency on, breaker closed)',
        `${statusText(slowPhase.statuses)}; p50 ${ms(slowPhase.p50)}, max ${ms(slowPhase.max)}`,
      );
      figure(
        'breaker open',
        `${statusText(open.statuses)}: ${unavailable} BULWARK_DB_UNAVAILABLE (the breaker), ${open.count - unavailable} other (load shedding, while slow calls are still in flight); p99 ${ms(open.p99)}`,
      );
      figure(
        'in-flight database work',
        `max ${maxConnections} proxied connections, max db_pool_connections ${maxPool}, max db_pool_pending_requests ${maxWaiting} (${during.length} samples)`,
      );
      figure(
        'after the latency was removed',
        recoveredAt === undefined
          ? 'no request succeeded'
          : `100 % success from ${((recoveredAt - healAt) / 1000).toFixed(1)} s after (breaker reset ${RESET_TIMEOUT_MS / 1000} s)`,
      );

      check(
        opened !== undefined &&
          slowCalls >= MINIMUM_CALLS * 0.8 &&
          failures === 0 &&
          tripReason === 'slow-call-rate',
        'the postgres breaker opened on slowness alone',
        opened
          ? `open ${((opened.t - slowAt) / 1000).toFixed(1)} s in, after ${slowCalls} slow and ${failures} failed calls; trip reason ${tripReason ?? 'not seen'}`
          : `never opened; ${slowCalls} slow, ${failures} failed calls`,
      );
      const answered = openPhase.filter(
        (record) => record.status === 503 && Number(record.retryAfter) >= 1,
      ).length;
      check(
        open.count > 0 && answered === open.count,
        'while open, every /api/v1 request is answered 503 with Retry-After',
        `${answered} of ${open.count}, p99 ${ms(open.p99)}; ${statusText(open.statuses)}`,
      );
      check(
        maxConnections <= POOL_MAX && maxPool <= POOL_MAX && during.length > 0,
        `in-flight database connections never above DB_POOL_MAX = ${POOL_MAX}`,
        `max ${maxConnections} through the proxy, max db_pool_connections ${maxPool}, while up to ${maxWaiting} calls waited`,
      );
    } finally {
      await load?.stop();
      await sampler?.stop();
      await healthSampler?.stop();
      await api?.stop();
      await proxy?.close();
      await database.drop();
    }
  },
};
