// GET /health/ready under load while a check hangs (issue 4). Probes read cached results, so
// the hanging check (failed and aborted at its 1 s timeout, every second) must cost them
// nothing: target p99 < 5 ms. Every answer of the health server is a 503 (its only check is
// critical and failing), so its p99 is the p99 of the cached 503s.
//
// Baseline: bare Fastify. The runner drives every server of a scenario on the same path, so
// the baseline (servers/health-bare.mjs) is servers/bare.mjs plus a static GET /health/ready
// returning a constant; compare its p99 with the plugin's.
export default {
  name: 'health',
  title: 'GET /health/ready with a check that never settles: bare Fastify vs @bulwark/health',
  servers: [
    { label: 'bare fastify', entry: 'servers/health-bare.mjs' },
    { label: '+ health, hanging check', entry: 'servers/health.mjs' },
  ],
  load: { path: '/health/ready', connections: 50, duration: 10 },
  ratioOf: 'reqPerSec',
  rounds: 3,
  warmupSeconds: 3,
  target: {
    label: '+ health, hanging check',
    maxP99Ms: 5,
    check: (row) => [
      row.errors === 0 && row.non2xx > 0,
      `answers from cache: ${row.non2xx} 503s, ${row.errors} socket errors (timeouts would be errors)`,
    ],
  },
};
