// Issue 5: the cost of @bulwark/limits on the hot path. Bare Fastify vs Fastify + limits (per-IP
// GCRA rate limit, RateLimit headers, JSON-API security headers, adaptive load shedding), with
// the state in process memory and in Redis. Targets: ≥ 0.75 of bare (memory), ≥ 0.60 (Redis;
// raised from 0.5 by issue 14, which also moved the guard to an instance-level hook).
// For scale, measured when the issue was filed: @fastify/rate-limit + @fastify/helmet +
// fastify-metrics + @fastify/under-pressure kept 0.31 (memory) and 0.47 (Redis).
export default {
  name: 'limits',
  title: 'bare Fastify vs Fastify + @bulwark/limits (memory store, Redis store)',
  needs: ['redis'],
  servers: [
    { label: 'bare fastify', entry: 'servers/bare.mjs' },
    // Not a target: bare Fastify sending the same 12 extra response headers, fixed, with no
    // logic. It splits the limits rows' cost into the headers' own and the plugin's.
    { label: 'bare + the same headers (reference)', entry: 'servers/headers-only.mjs' },
    { label: '+ limits (memory)', entry: 'servers/limits-memory.mjs' },
    { label: '+ limits (redis)', entry: 'servers/limits-redis.mjs' },
  ],
  // Short rounds, many of them, each paired with bare's of the same round (see run.mjs).
  load: { path: '/hello', connections: 50, duration: 4 },
  rounds: 9,
  warmupSeconds: 3,
  targets: [
    {
      label: '+ limits (memory)',
      minRatio: 0.75,
      check: (row) => [
        row.non2xx === 0 && row.errors === 0,
        `no 429/503 and no errors (${row.non2xx} non-2xx, ${row.errors} errors)`,
      ],
    },
    {
      label: '+ limits (redis)',
      minRatio: 0.6,
      check: (row) => [
        row.non2xx === 0 && row.errors === 0,
        `no 429/503 and no errors (${row.non2xx} non-2xx, ${row.errors} errors)`,
      ],
    },
  ],
};
