// Issue 5: overload. A route doing ~1 ms of CPU per request (servers/limits-work.mjs). Each
// server is first measured unloaded (UNLOADED_CONNECTIONS closed-loop connections: enough to
// keep the CPU busy, not enough to queue): that gives its maximum goodput and its unloaded p99.
// Then it is offered OVERLOAD_FACTOR × that rate, open-loop (autocannon's overallRate over
// OVERLOAD_CONNECTIONS connections), as real traffic arrives whether or not the server keeps up.
// With @bulwark/limits' shedding the excess gets an immediate 503 and the admitted requests stay
// fast. Targets (issue 5): overloaded goodput (2xx/s) ≥ 90 % of the unloaded maximum, and p99 of
// the successful requests ≤ 3 × the unloaded p99. Bare Fastify with the same route is measured
// in the same run for contrast (it queues everything: latency grows with the queue).
//
// Open loop matters: a closed-loop client that ignores Retry-After turns every 503 into an
// instant retry, so the server spends its time refusing (each refusal costs tens of µs, the
// admitted work 1 ms) and no shedder can hold both targets; offered load is what the issue means
// by "several times its capacity".
//
// This scenario uses the runner's `run()` form because it needs two load profiles per server,
// the second derived from the first; it reuses the runner's measure() (goodput and p99 of 2xx
// only) and startServer().
import { measure, median } from '../lib/load.mjs';
import { startServer } from '../lib/servers.mjs';

const UNLOADED_CONNECTIONS = 2;
const OVERLOAD_CONNECTIONS = 100;
const OVERLOAD_FACTOR = 3;
const DURATION = 10;
const ROUNDS = 3;

async function profile(server, load) {
  await measure(server.url, { path: '/hello', ...load, duration: 3 });
  const runs = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    runs.push(await measure(server.url, { path: '/hello', ...load, duration: DURATION }));
  }
  const pick = (key) => median(runs.map((run) => run[key]));
  return {
    reqPerSec: pick('reqPerSec'),
    goodputPerSec: pick('goodputPerSec'),
    p50: pick('p50'),
    p99: pick('p99'),
    okP99: pick('okP99'),
    non2xx: pick('non2xx'),
    errors: pick('errors'),
  };
}

const UNLOADED = 'limits, unloaded';
const OVERLOADED = `limits, offered ${OVERLOAD_FACTOR}× capacity`;

export default {
  name: 'limits-overload',
  title: `~1 ms CPU route offered ${OVERLOAD_FACTOR}× its capacity: @bulwark/limits shedding vs bare Fastify`,
  async run() {
    const rows = [];
    for (const [label, env] of [
      ['bare', { LIMITS: 'off' }],
      ['limits', {}],
    ]) {
      const server = await startServer({
        label,
        entry: 'servers/limits-work.mjs',
        env,
        readyPath: '/ready',
      });
      try {
        const unloaded = await profile(server, { connections: UNLOADED_CONNECTIONS });
        rows.push({ label: `${label}, unloaded`, ...unloaded });
        const overallRate = Math.round(OVERLOAD_FACTOR * unloaded.goodputPerSec);
        const overloaded = await profile(server, {
          connections: OVERLOAD_CONNECTIONS,
          overallRate,
        });
        rows.push({ label: `${label}, offered ${OVERLOAD_FACTOR}× capacity`, ...overloaded });
      } finally {
        await server.stop();
      }
    }
    return rows;
  },
  targets: [
    {
      label: OVERLOADED,
      check: (row, rows) => {
        const unloaded = rows.find((candidate) => candidate.label === UNLOADED);
        const goodput = row.goodputPerSec / unloaded.goodputPerSec;
        return [
          goodput >= 0.9,
          `goodput ${(goodput * 100).toFixed(0)} % of unloaded (${row.goodputPerSec.toFixed(0)} vs ${unloaded.goodputPerSec.toFixed(0)} 2xx/s) ≥ 90 %`,
        ];
      },
    },
    {
      label: OVERLOADED,
      check: (row, rows) => {
        const unloaded = rows.find((candidate) => candidate.label === UNLOADED);
        const factor = row.okP99 / unloaded.okP99;
        return [
          factor <= 3,
          `p99 of 2xx ${row.okP99} ms = ${factor.toFixed(1)} × unloaded ${unloaded.okP99} ms ≤ 3 ×`,
        ];
      },
    },
  ],
};
