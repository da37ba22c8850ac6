// Issue 16: password hashing must not take the service down with it. The reference API (the real
// process, production config, real PostgreSQL) serves GET /hello under closed-loop load, first
// alone, then while 12 clients register accounts in a loop (each registration is a ~100 ms
// scrypt). Rounds interleave the two. Target: /hello goodput with the registrations ≥ 90 % of
// its goodput without them, and no /hello answered 503.
//
// The registering clients behave as a client of this API should: on 503 they wait Retry-After
// (the hashing budget's answer past its bulkhead) before trying again. A client that retried at
// once would turn the test into a flood of cheap 503s, which is what rate limits are for.
import { measure, median, medianOfRuns } from '../lib/load.mjs';
import { startServer } from '../lib/servers.mjs';

const REGISTERING_CLIENTS = 12;
const ROUNDS = 3;
const DURATION = 10;
const HELLO = { path: '/hello', connections: 10, duration: DURATION };

const PRODUCTION = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'warn',
  JWT_SECRET: 'bench-only-secret-that-is-long-and-not-a-default-0123456789',
  METRICS_TOKEN: 'bench-metrics-token',
  CORS_ORIGIN: 'https://app.example.com',
  // One client IP sends everything: keep every tier out of the way of the measurement.
  RATE_LIMIT_GLOBAL_MAX: '1000000000',
  RATE_LIMIT_TENANT_MAX: '1000000000',
  RATE_LIMIT_USER_MAX: '1000000000',
  RATE_LIMIT_AUTH_MAX: '1000000000',
  RATE_LIMIT_AUTH_ACCOUNT_MAX: '1000000000',
  RATE_LIMIT_AUTH_IP_MAX: '1000000000',
};

let sequence = 0;

/** 12 loops registering fresh accounts until stopped; counts answers by status. */
function registrationLoops(url) {
  const counts = {};
  let running = true;
  const loop = async (client) => {
    while (running) {
      sequence += 1;
      const response = await fetch(`${url}/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          tenant: `hash-${process.pid}-${client}-${sequence}`,
          email: `user${sequence}@bench.test`,
          password: 'correct horse battery staple',
        }),
      }).catch(() => undefined);
      const status = response?.status ?? 'error';
      counts[status] = (counts[status] ?? 0) + 1;
      await response?.arrayBuffer();
      if (status === 503) {
        const seconds = Number(response.headers.get('retry-after')) || 1;
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      }
    }
  };
  const loops = Array.from({ length: REGISTERING_CLIENTS }, (_, client) => loop(client));
  return {
    counts,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

export default {
  name: 'api-hashing',
  title: `reference API GET /hello alone vs with ${REGISTERING_CLIENTS} clients registering in a loop (scrypt)`,
  needs: ['postgres'],
  async run({ databaseUrl }) {
    const server = await startServer(
      { label: 'reference api', entry: '../apps/api/dist/server.js', readyPath: '/health/ready' },
      { ...PRODUCTION, DATABASE_URL: databaseUrl },
    );
    try {
      await measure(server.url, { ...HELLO, duration: 3 });
      const alone = [];
      const loaded = [];
      const registered = [];
      for (let round = 0; round < ROUNDS; round += 1) {
        alone.push(await measure(server.url, HELLO));
        const loops = registrationLoops(server.url);
        // Let the registrations reach their steady state before measuring.
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        loaded.push(await measure(server.url, HELLO));
        await loops.stop();
        registered.push(loops.counts);
      }
      const perRound = alone.map((run, index) => loaded[index].goodputPerSec / run.goodputPerSec);
      const statuses = (status) => median(registered.map((counts) => counts[status] ?? 0));
      return [
        { label: 'GET /hello alone', ...medianOfRuns(alone) },
        {
          label: `GET /hello with ${REGISTERING_CLIENTS} registering clients`,
          ...medianOfRuns(loaded),
          goodputRatio: median(perRound),
          goodputRatioMin: Math.min(...perRound),
          goodputRatioMax: Math.max(...perRound),
          hello503: Math.max(...loaded.map((run) => run.non2xx)),
          registrations: `${statuses(201)} × 201, ${statuses(503)} × 503 per round (median)`,
          other: registered.map((counts) => JSON.stringify(counts)).join(' '),
        },
      ];
    } finally {
      await server.stop();
    }
  },
  table(rows) {
    const fmt = (value, digits = 0) =>
      Number.isFinite(value)
        ? value.toLocaleString('en', {
            maximumFractionDigits: digits,
            minimumFractionDigits: digits,
          })
        : '—';
    const lines = [
      '| load | /hello 2xx/s | ratio to alone (min–max) | p99 ms | /hello non-2xx | registrations |',
      '| --- | ---: | ---: | ---: | ---: | --- |',
    ];
    for (const row of rows) {
      lines.push(
        `| ${row.label} | ${fmt(row.goodputPerSec)} | ${row.goodputRatio === undefined ? '1' : `${fmt(row.goodputRatio, 2)} (${fmt(row.goodputRatioMin, 2)}–${fmt(row.goodputRatioMax, 2)})`} | ${fmt(row.p99, 1)} | ${fmt(row.non2xx)} | ${row.registrations ?? '—'} |`,
      );
    }
    return lines.join('\n');
  },
  target: {
    label: `GET /hello with ${REGISTERING_CLIENTS} registering clients`,
    check: (row) => [
      row.goodputRatio >= 0.9 && row.hello503 === 0,
      `/hello goodput ${(row.goodputRatio * 100).toFixed(0)} % of alone (≥ 90 %), /hello non-2xx in the worst round ${row.hello503} (0); registrations: ${row.other}`,
    ],
  },
};
