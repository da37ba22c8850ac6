// Bare Fastify vs Fastify + @bulwark/observability (metrics + request logs at info to a file +
// request ids, tracing off), same run. Target from issue 3: at least 80% of bare Fastify's req/s.
export default {
  name: 'observability',
  title:
    'bare Fastify vs Fastify + @bulwark/observability (metrics, request logs to a file, request ids)',
  servers: [
    { label: 'bare fastify', entry: 'servers/bare.mjs' },
    {
      label: '+ observability',
      entry: 'servers/observability.mjs',
      env: { NODE_ENV: 'production' },
    },
  ],
  load: { path: '/hello', connections: 50, duration: 10 },
  rounds: 3,
  warmupSeconds: 3,
  target: { label: '+ observability', minRatio: 0.8 },
};
