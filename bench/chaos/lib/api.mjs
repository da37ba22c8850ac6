// The reference API as the chaos scenarios run it: production mode, real secrets, rate limits
// raised out of the way of one-IP load, and a small client for setup calls and scrapes.
import { randomBytes } from 'node:crypto';

/** Tokens of this run (production mode requires them; the scenarios read /metrics with them). */
export const secrets = {
  jwt: randomBytes(36).toString('base64url'),
  metrics: randomBytes(18).toString('base64url'),
  health: randomBytes(18).toString('base64url'),
};

/**
 * Every load comes from 127.0.0.1, so the per-IP, per-tenant and per-user limits (600, 1000, 60
 * a minute by default) would answer 429 to the load itself. They are raised here; the rate
 * limiter still runs (and still talks to Redis) on every request.
 */
export const RAISED_RATE_LIMITS = {
  RATE_LIMIT_GLOBAL_MAX: '1000000',
  RATE_LIMIT_TENANT_MAX: '1000000',
  RATE_LIMIT_USER_MAX: '1000000',
  RATE_LIMIT_AUTH_MAX: '1000000',
  RATE_LIMIT_AUTH_ACCOUNT_MAX: '1000000',
  RATE_LIMIT_AUTH_IP_MAX: '1000000',
};

/** Environment of an API process: production, warn-level logs, raised rate limits, `extra` last. */
export function apiEnv(extra = {}) {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    JWT_SECRET: secrets.jwt,
    METRICS_TOKEN: secrets.metrics,
    HEALTH_TOKEN: secrets.health,
    CORS_ORIGIN: 'https://chaos.example.com',
    ...RAISED_RATE_LIMITS,
    ...extra,
  };
}

async function json(response) {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

/** Registers an account (201) and logs it in; returns its bearer token. */
export async function account(baseUrl, tenant, email, password = 'correct horse battery staple') {
  const headers = { 'content-type': 'application/json' };
  const body = JSON.stringify({ tenant, email, password });
  const registered = await fetch(`${baseUrl}/auth/register`, { method: 'POST', headers, body });
  if (registered.status !== 201) {
    throw new Error(
      `register ${email}: ${registered.status} ${JSON.stringify(await json(registered))}`,
    );
  }
  const login = await fetch(`${baseUrl}/auth/login`, { method: 'POST', headers, body });
  const answer = await json(login);
  if (login.status !== 200)
    throw new Error(`login ${email}: ${login.status} ${JSON.stringify(answer)}`);
  return answer.token;
}

/** A tenant slug no other scenario of this run uses. */
export function uniqueTenant(label) {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

/**
 * Scrapes /metrics and returns `value(name, labels?)`: the sum of the samples of `name` whose
 * labels include `labels` (NaN when there is none).
 */
export async function scrape(baseUrl) {
  const response = await fetch(`${baseUrl}/metrics`, {
    headers: { authorization: `Bearer ${secrets.metrics}` },
    signal: AbortSignal.timeout(2_000),
  });
  if (response.status !== 200) throw new Error(`GET /metrics: ${response.status}`);
  const samples = [];
  for (const line of (await response.text()).split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]] = pair[2];
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return {
    value(name, labels = {}) {
      const found = samples.filter(
        (sample) =>
          sample.name === name &&
          Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
      );
      return found.length === 0 ? Number.NaN : found.reduce((sum, s) => sum + s.value, 0);
    },
  };
}

/** GET /health/detailed with the run's token. */
export async function detailedHealth(baseUrl) {
  const response = await fetch(`${baseUrl}/health/detailed`, {
    headers: { authorization: `Bearer ${secrets.health}` },
    signal: AbortSignal.timeout(2_000),
  });
  if (response.status !== 200) throw new Error(`GET /health/detailed: ${response.status}`);
  return response.json();
}
