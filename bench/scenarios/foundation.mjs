// The reference API's `GET /hello` (all five plugins registered, production config: JSON request
// logs at info, real PostgreSQL, memory rate-limit store) next to bare Fastify's.
export default {
  name: 'foundation',
  title: 'bare Fastify vs the reference API (GET /hello)',
  needs: ['postgres'],
  servers: [
    { label: 'bare fastify', entry: 'servers/bare.mjs' },
    {
      label: 'reference api',
      entry: '../apps/api/dist/server.js',
      env: {
        NODE_ENV: 'production',
        REDIS_URL: '',
        JWT_SECRET: 'bench-only-secret-that-is-long-and-not-a-default-0123456789',
        METRICS_TOKEN: 'bench-metrics-token',
        CORS_ORIGIN: 'https://app.example.com',
        // One client sends everything: keep it under the per-IP limit so every request is served.
        RATE_LIMIT_GLOBAL_MAX: '1000000000',
      },
      readyPath: '/health',
    },
  ],
  load: { path: '/hello', connections: 50, duration: 10 },
  rounds: 3,
  warmupSeconds: 3,
};
