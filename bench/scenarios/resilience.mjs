// Fail-fast while Postgres is cut (issue 6): the same GET /hello reading from Postgres, with
// @bulwark/resilience's breaker and without, both behind a fault proxy that blackholes Postgres
// from the start. Target: p99 of the breaker's 503 answers ≤ 5 ms; the no-breaker route is bound
// by the connection timeout (2 s). Every answer in this scenario is a 503, so p99 is the p99 of
// 503s. Bare Fastify's /hello (no database) is the baseline row.
export default {
  name: 'resilience',
  title: 'GET /hello on Postgres cut: fail-fast breaker (503 + Retry-After) vs no breaker',
  needs: ['postgres'],
  servers: [
    { label: 'bare fastify', entry: 'servers/bare.mjs' },
    {
      label: 'postgres cut, breaker',
      entry: 'servers/resilience-breaker.mjs',
      readyPath: '/ready',
    },
    {
      label: 'postgres cut, no breaker',
      entry: 'servers/resilience-nobreaker.mjs',
      readyPath: '/ready',
    },
  ],
  // Open loop at a fixed rate well below the fail-fast path's capacity (~12k/s here): the p99 of
  // a saturating closed loop (50 requests always in flight) is the queue in front of the
  // process, ~50 / capacity, whatever the breaker does; a latency figure needs a rate the
  // server keeps up with. (At saturation the run of 2026-11-23 measured p99 11 ms at 11.8k/s.)
  load: { path: '/hello', connections: 50, overallRate: 5000, duration: 10, timeoutSeconds: 15 },
  ratioOf: 'reqPerSec',
  rounds: 3,
  warmupSeconds: 3,
  target: {
    label: 'postgres cut, breaker',
    maxP99Ms: 5,
    check: (row, rows) => {
      const slow = rows.find((candidate) => candidate.label === 'postgres cut, no breaker');
      const allFailFast = row.non2xx > 0 && row.errors === 0;
      return [
        allFailFast && slow !== undefined && !(row.p99 >= slow.p99),
        `every answer a 503 with no socket errors (${row.non2xx} non-2xx, ${row.errors} errors), p99 ${row.p99} ms vs ${slow?.p99} ms without the breaker`,
      ];
    },
  },
};
