// The overload measurement shared by scenarios/limits-overload.mjs and scenarios/stack-overload.mjs.
//
// Each server is first measured unloaded (UNLOADED_CONNECTIONS closed-loop connections: enough
// to keep the CPU busy, not enough to queue): that gives its maximum goodput and unloaded p99.
// Then it is offered OVERLOAD_FACTOR × that rate, open loop (lib/open-loop.mjs: a fixed arrival
// rate, latency from the intended send time), as real traffic arrives whether or not the server
// keeps up.
// With @bulwark/limits' shedding the excess gets an immediate 503 and the admitted requests stay
// fast; bare Fastify queues everything and its latency grows with the queue.
//
// Open loop matters: a closed-loop client that ignores Retry-After turns every 503 into an
// instant retry, so the server spends its time refusing (each refusal costs tens of µs, the
// admitted work 1 ms) and no shedder can hold both targets; offered load is what "several times
// its capacity" means.
import { measure, medianOfRuns } from './load.mjs';
import { startServer } from './servers.mjs';

const UNLOADED_CONNECTIONS = 2;
const OVERLOAD_CONNECTIONS = 100;
export const OVERLOAD_FACTOR = 3;
const DURATION = 10;
const ROUNDS = 3;

async function profile(server, load) {
  await measure(server.url, { path: '/hello', ...load, duration: 3 });
  const runs = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    runs.push(await measure(server.url, { path: '/hello', ...load, duration: DURATION }));
  }
  return medianOfRuns(runs);
}

/** Rows `<label>, unloaded` and `<label>, offered N× capacity` for each `[label, server]`. */
export async function measureOverload(servers, env = {}) {
  const rows = [];
  for (const [label, spec] of servers) {
    const server = await startServer({ label, readyPath: '/ready', ...spec }, env);
    try {
      const unloaded = await profile(server, { connections: UNLOADED_CONNECTIONS });
      rows.push({ label: `${label}, unloaded`, ...unloaded });
      const overallRate = Math.round(OVERLOAD_FACTOR * unloaded.goodputPerSec);
      const overloaded = await profile(server, { connections: OVERLOAD_CONNECTIONS, overallRate });
      rows.push({ label: `${label}, offered ${OVERLOAD_FACTOR}× capacity`, ...overloaded });
    } finally {
      await server.stop();
    }
  }
  return rows;
}

/** Issue 5's targets for `label`: goodput ≥ 90 % of unloaded, p99 of 2xx ≤ 3 × unloaded. */
export function overloadTargets(label) {
  const unloadedOf = (rows) => rows.find((row) => row.label === `${label}, unloaded`);
  const overloaded = `${label}, offered ${OVERLOAD_FACTOR}× capacity`;
  return [
    {
      label: overloaded,
      check: (row, rows) => {
        const unloaded = unloadedOf(rows);
        const goodput = row.goodputPerSec / unloaded.goodputPerSec;
        return [
          goodput >= 0.9,
          `goodput ${(goodput * 100).toFixed(0)} % of unloaded (${row.goodputPerSec.toFixed(0)} vs ${unloaded.goodputPerSec.toFixed(0)} 2xx/s) ≥ 90 %`,
        ];
      },
    },
    {
      label: overloaded,
      check: (row, rows) => {
        const unloaded = unloadedOf(rows);
        const factor = row.okP99 / unloaded.okP99;
        return [
          factor <= 3,
          `p99 of 2xx ${row.okP99.toFixed(1)} ms = ${factor.toFixed(1)} × unloaded ${unloaded.okP99.toFixed(1)} ms ≤ 3 ×`,
        ];
      },
    },
  ];
}
