// Redis hung for 12 s (SIGSTOP of the run's redis-server: connections stay open, nothing answers,
// nothing is refused), then resumed (SIGCONT). Redis is shared by every instance, so its hang must
// never unready this one: routes that do not need Redis answer fast and without 5xx, readiness
// stays 200 while health reports degraded, and a sign-up during the hang gets its welcome email
// once Redis answers again.
import { setTimeout as sleep } from 'node:timers/promises';
import { createDatabase, startRedis, waitFor } from '@bulwark/testing';
import { account, apiEnv, detailedHealth, uniqueTenant } from '../lib/api.mjs';
import { pendingEmails } from '../lib/postgres.mjs';
import { startApi } from '../lib/processes.mjs';
import { startSampler } from '../lib/sampler.mjs';
import { startLoad } from '../lib/steady-load.mjs';
import { ms, statusText, summarize, within } from '../lib/windows.mjs';

const HANG_MS = 12_000;
const P99_BOUND_MS = 250;
const MAX_BOUND_MS = 1_500;
const SENT_WITHIN_MS = 30_000;
const PASSWORD = 'correct horse battery staple';
// Registration spends ~100 ms hashing (scrypt) on purpose: its latency measures the CPU, not
// Redis, so the latency bound applies to the other routes (its figures are printed apart).
const CPU_BOUND_ROUTE = 'POST /auth/register';

/** Notes reads and writes for two users, GET /hello, and a registration every 20th request. */
function traffic(baseUrl, tokens, registered) {
  return (index) => {
    const authorization = `Bearer ${tokens[index % tokens.length]}`;
    const slot = index % 20;
    if (slot === 0) {
      // Each sign-up creates its own tenant: joining an existing one takes an invitation.
      const tenant = uniqueTenant('hang-signup');
      return {
        label: 'POST /auth/register',
        method: 'POST',
        url: `${baseUrl}/auth/register`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tenant, email: `user${index}@chaos.test`, password: PASSWORD }),
        onResponse(response) {
          if (response.status === 201) registered.push(JSON.parse(response.body).id);
        },
      };
    }
    if (slot % 4 === 1) return { label: 'GET /hello', url: `${baseUrl}/hello` };
    if (slot % 4 === 2) {
      return {
        label: 'POST /api/v1/notes',
        method: 'POST',
        url: `${baseUrl}/api/v1/notes`,
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ title: `note ${index}`, body: 'written while Redis hangs' }),
      };
    }
    return {
      label: 'GET /api/v1/notes',
      url: `${baseUrl}/api/v1/notes?limit=5`,
      headers: { authorization },
    };
  };
}

export default {
  name: 'redis-hang',
  title: 'Redis hung (SIGSTOP) 12 s under load, then resumed',
  async run({ short, check, figure, note, log }) {
    const rate = short ? 60 : 100;
    note(
      `One API process (\`WORKERS=inline\`: the email worker runs in it) on its own redis-server and database; ${rate} req/s, at most 32 in flight, of notes reads and writes for two users, \`GET /hello\`, and \`POST /auth/register\` every 20th request (each writes a welcome email to the outbox, relayed to the queue in Redis). None of these routes needs Redis to answer: rate limits fall back to the per-process limiter. After 3 s the redis-server is SIGSTOPped for ${HANG_MS / 1000} s (a partition as clients see it), then SIGCONTed. /health/detailed and /health/ready are sampled every 250 ms; the outbox is read from PostgreSQL directly. Requests of the whole run count, the hang included; the latency bound leaves out \`POST /auth/register\`, which spends ~100 ms hashing (scrypt) on purpose, so its latency measures the CPU rather than Redis (its figures are in the table).`,
    );
    const redis = await startRedis();
    let database;
    let api;
    let load;
    let sampler;
    try {
      database = await createDatabase(undefined, 'bulwark_chaos');
      api = await startApi(
        apiEnv({ DATABASE_URL: database.url, REDIS_URL: redis.url, WORKERS: 'inline' }),
      );
      const pid = api.pid;
      const tokens = [];
      for (let i = 0; i < 2; i += 1) {
        tokens.push(await account(api.url, uniqueTenant('hang'), `user${i}@chaos.test`));
      }
      await waitFor(async () => (await detailedHealth(api.url)).status === 'healthy', {
        timeoutMs: 15_000,
        intervalMs: 250,
        what: 'a healthy instance before the hang',
      });
      sampler = startSampler(async () => {
        const [report, ready] = await Promise.all([
          detailedHealth(api.url),
          fetch(`${api.url}/health/ready`, { signal: AbortSignal.timeout(2_000) }).then(
            (response) => response.status,
          ),
        ]);
        const failing = Object.entries(report.checks)
          .filter(([, value]) => value.status === 'fail')
          .map(([name]) => name);
        return { status: report.status, ready, failing };
      }, 250);
      const registered = [];
      load = startLoad({
        rate,
        concurrency: 32,
        timeoutMs: 10_000,
        next: traffic(api.url, tokens, registered),
      });
      await sleep(3_000);
      const hangAt = performance.now();
      const registeredBefore = registered.length;
      redis.hang();
      log('redis-server SIGSTOPped');
      await sleep(HANG_MS);
      const registeredDuring = registered.slice(registeredBefore);
      redis.resume();
      const resumeAt = performance.now();
      log('redis-server SIGCONTed');
      const pendingOf = (ids) => pendingEmails(database.url, ids);
      const sentAt = await waitFor(
        async () => (await pendingOf(registeredDuring)) === 0 && performance.now(),
        { timeoutMs: SENT_WITHIN_MS, intervalMs: 250, what: 'the hang-time emails sent' },
      ).catch(() => undefined);
      await sleep(2_000);
      const { records, skipped } = await load.stop();
      load = undefined;
      const health = (await sampler.stop()).filter((sample) => sample.error === undefined);
      sampler = undefined;

      const all = summarize(records);
      const hung = summarize(within(records, hangAt, resumeAt));
      const before = summarize(within(records, -Infinity, hangAt));
      const latencyRoutes = records.filter((record) => record.label !== CPU_BOUND_ROUTE);
      const latency = summarize(latencyRoutes);
      const latencyHung = summarize(within(latencyRoutes, hangAt, resumeAt));
      const during = health.filter((sample) => sample.t >= hangAt && sample.t < resumeAt);
      const unready = health.filter((sample) => sample.value.ready !== 200);
      const degraded = during.find((sample) => sample.value.status === 'degraded');
      const failingSeen = [...new Set(during.flatMap((sample) => sample.value.failing))].sort();
      const byRoute = new Map();
      for (const record of records) {
        const list = byRoute.get(record.label) ?? [];
        list.push(record);
        byRoute.set(record.label, list);
      }
      const sent = registeredDuring.length - (await pendingOf(registeredDuring));

      figure('load', `${rate} req/s, ${records.length} requests, ${skipped} skipped`);
      for (const [route, list] of [...byRoute.entries()].sort()) {
        const s = summarize(list);
        const inHang = summarize(within(list, hangAt, resumeAt));
        figure(
          route,
          `${statusText(s.statuses)} (hang: ${statusText(inHang.statuses)}); p99 ${ms(s.p99)}, max ${ms(s.max)}`,
        );
      }
      figure(
        'before the hang',
        `${statusText(before.statuses)}; p50 ${ms(before.p50)}, p99 ${ms(before.p99)}, max ${ms(before.max)}`,
      );
      figure(
        'during the hang',
        `${statusText(hung.statuses)}; p50 ${ms(hung.p50)}, p99 ${ms(hung.p99)}, max ${ms(hung.max)}`,
      );
      const codes = {};
      for (const record of records.filter((r) => r.status >= 500)) {
        const key = `${record.status} ${record.code ?? '?'}`;
        codes[key] = (codes[key] ?? 0) + 1;
      }
      figure('5xx by code', statusText(codes));
      figure(
        'health during the hang',
        `/health/detailed degraded ${degraded ? `${((degraded.t - hangAt) / 1000).toFixed(1)} s in` : 'never'}; failing checks seen: ${failingSeen.join(', ') || 'none'}; /health/ready non-200 in ${unready.length} of ${health.length} samples (whole run)`,
      );
      figure(
        'outbox',
        `${registeredDuring.length} accounts registered during the hang, ${sent} welcome emails sent${sentAt ? ` (all ${((sentAt - resumeAt) / 1000).toFixed(1)} s after the resume)` : ''}`,
      );

      check(
        all.serverErrors === 0 && all.errors === 0 && all.count > 0,
        'no 5xx and no connection errors on routes that do not need Redis',
        `${all.serverErrors} 5xx, ${all.errors} errors in ${all.count} requests (${hung.count} during the hang: ${statusText(hung.statuses)})`,
      );
      check(
        latency.p99 <= P99_BOUND_MS && latency.max <= MAX_BOUND_MS && latency.count > 0,
        `p99 ≤ ${P99_BOUND_MS} ms and max ≤ ${MAX_BOUND_MS / 1000} s (every route but ${CPU_BOUND_ROUTE}, whole run)`,
        `p99 ${ms(latency.p99)}, max ${ms(latency.max)} over ${latency.count} requests (hang: p99 ${ms(latencyHung.p99)}, max ${ms(latencyHung.max)})`,
      );
      check(
        unready.length === 0 && health.length > 0,
        '/health/ready 200 throughout',
        `non-200 in ${unready.length} of ${health.length} samples${unready.length ? ` (first at ${((unready[0].t - hangAt) / 1000).toFixed(1)} s from the hang)` : ''}`,
      );
      check(
        degraded !== undefined,
        '/health degraded during the hang',
        degraded
          ? `degraded ${((degraded.t - hangAt) / 1000).toFixed(1)} s in (${failingSeen.join(', ')})`
          : 'never degraded',
      );
      check(
        registeredDuring.length > 0 && sent === registeredDuring.length,
        `a sign-up during the hang gets its welcome email within ${SENT_WITHIN_MS / 1000} s of Redis resuming`,
        `${sent} of ${registeredDuring.length} sent`,
      );
      check(
        api.running && api.pid === pid,
        'the process was not restarted',
        `pid ${pid}, ${api.running ? 'still running' : 'exited'}`,
      );
    } finally {
      redis.resume();
      await load?.stop();
      await sampler?.stop();
      await api?.stop();
      await redis.stop();
      await database?.drop();
    }
  },
};
