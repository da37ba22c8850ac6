// Redis killed (SIGKILL, nothing persisted) under load, restarted on the same port after the
// outage. Routes that do not need Redis must keep answering; rate limits must fall back to the
// per-process limiter; /health/detailed must go degraded and come back healthy; and every
// welcome email of an account registered during the outage must be sent once Redis is back.
import { setTimeout as sleep } from 'node:timers/promises';
import { createDatabase, startRedis, waitFor } from '@bulwark/testing';
import { account, apiEnv, detailedHealth, scrape, uniqueTenant } from '../lib/api.mjs';
import { pendingEmails, query } from '../lib/postgres.mjs';
import { startApi } from '../lib/processes.mjs';
import { startSampler } from '../lib/sampler.mjs';
import { startLoad } from '../lib/steady-load.mjs';
import { ms, statusText, summarize, within } from '../lib/windows.mjs';

const HEALTHY_WITHIN_MS = 15_000;
const SENT_WITHIN_MS = 30_000;
const PASSWORD = 'correct horse battery staple';

/** Mixed traffic: notes CRUD (both users), GET /hello and a registration every 20th request. */
function mixedTraffic(baseUrl, tokens, registered) {
  const notes = [];
  return (index) => {
    const authorization = `Bearer ${tokens[index % tokens.length]}`;
    const slot = index % 20;
    if (slot === 0) {
      const email = `user${index}@chaos.test`;
      // A tenant of its own: joining an existing one takes an invitation (issue 16).
      const tenant = uniqueTenant('signup');
      return {
        label: 'POST /auth/register',
        method: 'POST',
        url: `${baseUrl}/auth/register`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tenant, email, password: PASSWORD }),
        onResponse(response) {
          if (response.status === 201) registered.push(JSON.parse(response.body).id);
        },
      };
    }
    if (slot % 5 === 1) return { label: 'GET /hello', url: `${baseUrl}/hello` };
    if (slot % 5 === 2) {
      return {
        label: 'POST /api/v1/notes',
        method: 'POST',
        url: `${baseUrl}/api/v1/notes`,
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ title: `note ${index}`, body: 'written while Redis may be gone' }),
        onResponse(response) {
          if (response.status === 201)
            notes.push({ id: JSON.parse(response.body).id, authorization });
        },
      };
    }
    // Delete the oldest note, read the newest: never the same one while more than one exists.
    if (slot % 5 === 3 && notes.length > 1) {
      const note = notes.shift();
      return {
        label: 'DELETE /api/v1/notes/:id',
        method: 'DELETE',
        url: `${baseUrl}/api/v1/notes/${note.id}`,
        headers: { authorization: note.authorization },
      };
    }
    if (slot % 5 === 4 && notes.length > 1) {
      const note = notes.at(-1);
      return {
        label: 'GET /api/v1/notes/:id',
        url: `${baseUrl}/api/v1/notes/${note.id}`,
        headers: { authorization: note.authorization },
      };
    }
    return {
      label: 'GET /api/v1/notes',
      url: `${baseUrl}/api/v1/notes?limit=10`,
      headers: { authorization },
    };
  };
}

export default {
  name: 'redis-kill',
  title: 'Redis SIGKILLed under load, restarted empty',
  async run({ short, check, figure, note, log }) {
    // At least one 5 s health-check interval (+ its 2 s timeout), so a check run is certain to
    // fall inside the outage: the health bound is then never a matter of luck.
    const outageMs = short ? 7_000 : 10_000;
    const rate = short ? 60 : 100;
    note(
      `One API process (\`WORKERS=inline\`: the email worker runs in it) on its own redis-server and database; ${rate} req/s, at most 32 in flight, of: notes CRUD (POST, GET list, GET by id, DELETE) for two users, \`GET /hello\`, and \`POST /auth/register\` every 20th request (each writes a welcome email to the outbox). After 3 s Redis is SIGKILLed (it persists nothing, so it comes back empty) and restarted on the same port ${outageMs / 1000} s later${short ? ' (short mode keeps 7 s: the health checks run every 5 s with a 2 s timeout, and a shorter outage can fall between two runs)' : ''}. /health/detailed and /metrics are sampled every 250 ms; the outbox is read from PostgreSQL directly.`,
    );
    const redis = await startRedis();
    let database;
    let api;
    let load;
    let healthSampler;
    let metricsSampler;
    try {
      database = await createDatabase(undefined, 'bulwark_chaos');
      api = await startApi(
        apiEnv({ DATABASE_URL: database.url, REDIS_URL: redis.url, WORKERS: 'inline' }),
      );
      const tokens = [];
      for (let i = 0; i < 2; i += 1) {
        tokens.push(await account(api.url, uniqueTenant('redis'), `user${i}@chaos.test`));
      }
      // The queue's Redis check fails once at boot (connecting); start from a healthy instance.
      await waitFor(async () => (await detailedHealth(api.url)).status === 'healthy', {
        timeoutMs: 15_000,
        intervalMs: 250,
        what: 'a healthy instance before the kill',
      });
      healthSampler = startSampler(async () => {
        const [report, ready] = await Promise.all([
          detailedHealth(api.url),
          fetch(`${api.url}/health/ready`).then((response) => response.status),
        ]);
        return {
          status: report.status,
          ready,
          store: report.checks['rate-limit-store']?.status,
          queue: report.checks['queue:redis']?.status,
        };
      }, 250);
      metricsSampler = startSampler(async () => {
        const metrics = await scrape(api.url);
        return {
          fallback: metrics.value('rate_limit_store_fallback'),
          fallbackDecisions:
            metrics.value('rate_limit_decisions_total', { outcome: 'fallback' }) || 0,
        };
      }, 250);
      const registered = [];
      load = startLoad({
        rate,
        concurrency: 32,
        timeoutMs: 10_000,
        next: mixedTraffic(api.url, tokens, registered),
      });
      await sleep(3_000);
      const killAt = performance.now();
      const registeredBefore = registered.length;
      await redis.kill();
      log('redis-server SIGKILLed');
      await sleep(outageMs);
      const registeredDuring = registered.slice(registeredBefore);
      await redis.start();
      const backAt = performance.now();
      log('redis-server restarted');
      const healthyAgain = await waitFor(
        () => healthSampler.first((value) => value.status === 'healthy', backAt),
        {
          timeoutMs: HEALTHY_WITHIN_MS + 5_000,
          intervalMs: 100,
          what: 'healthy after the restart',
        },
      ).catch(() => undefined);
      const pendingOf = (ids) => pendingEmails(database.url, ids);
      const sentAt = await waitFor(
        async () => (await pendingOf(registeredDuring)) === 0 && performance.now(),
        { timeoutMs: SENT_WITHIN_MS, intervalMs: 250, what: 'the outage emails sent' },
      ).catch(() => undefined);
      await sleep(2_000);
      const { records, skipped } = await load.stop();
      load = undefined;
      const health = (await healthSampler.stop()).filter((sample) => sample.error === undefined);
      healthSampler = undefined;
      const metrics = (await metricsSampler.stop()).filter((sample) => sample.error === undefined);
      metricsSampler = undefined;

      // Every other email too (registered before the kill or after the return): relayed and sent
      // within a few seconds, unless its job was in Redis when Redis died with its data.
      const allSent = await waitFor(
        async () =>
          Number(
            (
              await query(database.url, `SELECT count(*) AS n FROM outbox WHERE status <> 'sent'`)
            )[0].n,
          ) === 0,
        { timeoutMs: 10_000, intervalMs: 250, what: 'every email sent' },
      ).catch(() => false);
      const outboxRows = await query(
        database.url,
        `SELECT count(*) FILTER (WHERE user_id = ANY($1::uuid[])) AS during,
                count(*) FILTER (WHERE user_id = ANY($1::uuid[]) AND status = 'sent') AS during_sent,
                count(*) AS total, count(*) FILTER (WHERE status = 'sent') AS sent
           FROM outbox`,
        [registeredDuring],
      );
      const outbox = Object.fromEntries(
        Object.entries(outboxRows[0]).map(([k, v]) => [k, Number(v)]),
      );
      const all = summarize(records);
      const outage = summarize(within(records, killAt, backAt));
      const inOutage = (sample) => sample.t >= killAt && sample.t < backAt;
      const degraded = health.find(
        (sample) => inOutage(sample) && sample.value.status === 'degraded',
      );
      const storeFailed = health.some(
        (sample) => inOutage(sample) && sample.value.store === 'fail',
      );
      const unready = health.filter((sample) => sample.value.ready !== 200).length;
      const fallbackSeen = metrics.some(
        (sample) => inOutage(sample) && sample.value.fallback === 1,
      );
      const fallbackDecisions =
        (metrics.at(-1)?.value.fallbackDecisions ?? 0) -
        (metrics.find((sample) => sample.t >= killAt)?.value.fallbackDecisions ?? 0);
      const byRoute = new Map();
      for (const record of records) {
        const list = byRoute.get(record.label) ?? [];
        list.push(record);
        byRoute.set(record.label, list);
      }

      figure('load', `${rate} req/s, ${records.length} requests, ${skipped} skipped`);
      for (const [route, list] of [...byRoute.entries()].sort()) {
        const s = summarize(list);
        const during = summarize(within(list, killAt, backAt));
        figure(
          route,
          `${statusText(s.statuses)} (outage: ${statusText(during.statuses)}); p99 ${ms(s.p99)}`,
        );
      }
      figure(
        'during the outage',
        `${statusText(outage.statuses)}; p99 ${ms(outage.p99)}, max ${ms(outage.max)}`,
      );
      figure(
        'rate limiting during the outage',
        `rate_limit_store_fallback 1: ${fallbackSeen ? 'seen' : 'not seen'}; ${fallbackDecisions} decisions with outcome="fallback"; rate-limit-store check failed: ${storeFailed ? 'yes' : 'no'}`,
      );
      figure(
        '/health/detailed',
        `degraded ${degraded ? `${((degraded.t - killAt) / 1000).toFixed(1)} s after the kill` : 'never seen in the outage'}, healthy ${healthyAgain ? `${((healthyAgain.t - backAt) / 1000).toFixed(1)} s after the restart` : 'not again'}; /health/ready non-200 in ${unready} of ${health.length} samples`,
      );
      figure(
        'outbox',
        `${outbox.during} emails of accounts registered during the outage, ${outbox.during_sent} sent ${sentAt ? `(all ${((sentAt - backAt) / 1000).toFixed(1)} s after the restart)` : ''}; all rows: ${outbox.sent} of ${outbox.total} sent${allSent ? '' : ' 10 s after the load stopped'}`,
      );

      check(
        all.serverErrors === 0 && all.errors === 0,
        '0 5xx and 0 connection errors on routes that do not need Redis',
        `${all.serverErrors} 5xx, ${all.errors} errors in ${all.count} requests (${outage.count} during the outage)`,
      );
      check(
        fallbackSeen &&
          fallbackDecisions > 0 &&
          storeFailed &&
          outage.count > 0 &&
          outage.failed === 0,
        'rate limits fell back to the per-process limiter and requests still passed',
        `fallback gauge ${fallbackSeen ? '1' : 'never 1'}, ${fallbackDecisions} fallback decisions, rate-limit-store check ${storeFailed ? 'failed' : 'never failed'}; ${outage.count - outage.failed} of ${outage.count} outage requests 2xx`,
      );
      check(
        degraded !== undefined &&
          healthyAgain !== undefined &&
          healthyAgain.t - backAt <= HEALTHY_WITHIN_MS,
        `/health/detailed degraded during the outage, healthy within ${HEALTHY_WITHIN_MS / 1000} s of Redis' return`,
        `degraded ${degraded ? `at +${((degraded.t - killAt) / 1000).toFixed(1)} s` : 'never'}, healthy ${healthyAgain ? `+${((healthyAgain.t - backAt) / 1000).toFixed(1)} s after` : 'never'}`,
      );
      check(
        registeredDuring.length > 0 &&
          outbox.during === registeredDuring.length &&
          outbox.during_sent === outbox.during,
        `every email of an account registered during the outage is sent within ${SENT_WITHIN_MS / 1000} s of Redis' return`,
        `${outbox.during_sent} of ${outbox.during} sent (${registeredDuring.length} accounts registered during the outage)`,
      );
    } finally {
      await load?.stop();
      await healthSampler?.stop();
      await metricsSampler?.stop();
      await api?.stop();
      await redis.stop();
      await database?.drop();
    }
  },
};
