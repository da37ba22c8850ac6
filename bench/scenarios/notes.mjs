// Issue 9, the realistic case: the reference API's authenticated GET /api/v1/notes (JWT verify,
// three rate-limit tiers on Redis, a keyset-paginated query of 20 notes on real PostgreSQL,
// response schema, JSON logs at info) next to bare Fastify's GET /hello. No target: it shows
// what a real request costs once the plugins are a fraction of it.
const PRODUCTION = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'info',
  JWT_SECRET: 'bench-only-secret-that-is-long-and-not-a-default-0123456789',
  METRICS_TOKEN: 'bench-metrics-token',
  CORS_ORIGIN: 'https://app.example.com',
  // One client sends everything: keep it under every tier's limit so each request is served.
  RATE_LIMIT_GLOBAL_MAX: '1000000000',
  RATE_LIMIT_TENANT_MAX: '1000000000',
  RATE_LIMIT_USER_MAX: '1000000000',
};

async function call(url, method, path, body, token) {
  const response = await fetch(url + path, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  if (!response.ok)
    throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Registers a user, logs in, writes 25 notes; the load then reads the first page of 20. */
async function seed(url) {
  const account = {
    tenant: `bench-${Date.now()}`,
    email: 'bench@example.com',
    password: 'correct horse battery',
  };
  await call(url, 'POST', '/auth/register', account);
  const { token } = await call(url, 'POST', '/auth/login', account);
  for (let index = 0; index < 25; index += 1) {
    await call(
      url,
      'POST',
      '/api/v1/notes',
      { title: `note ${index}`, body: 'x'.repeat(200) },
      token,
    );
  }
  return { path: '/api/v1/notes?limit=20', headers: { authorization: `Bearer ${token}` } };
}

export default {
  name: 'notes',
  title:
    "reference API's authenticated GET /api/v1/notes (real Postgres, Redis limits) vs bare /hello",
  needs: ['redis', 'postgres'],
  servers: [
    { label: 'bare fastify (GET /hello)', entry: 'servers/bare.mjs' },
    {
      label: 'reference api (GET /api/v1/notes, 20 notes)',
      entry: '../apps/api/dist/server.js',
      env: PRODUCTION,
      readyPath: '/health/ready',
      setup: seed,
    },
  ],
  load: { path: '/hello', connections: 50, duration: 10 },
  rounds: 3,
  warmupSeconds: 3,
  target: {
    label: 'reference api (GET /api/v1/notes, 20 notes)',
    check: (row) => [
      row.non2xx === 0 && row.errors === 0,
      `every request served: ${row.non2xx} non-2xx, ${row.errors} errors`,
    ],
  },
};
