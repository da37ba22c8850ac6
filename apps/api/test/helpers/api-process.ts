import { fileURLToPath } from 'node:url';
import { type ChildApp, spawnApp } from '@bulwark/testing';
import { inject } from 'vitest';

const apiRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The API as a real process on this run's PostgreSQL, test mode, warn-level logs, `env` last.
 * Every test client is 127.0.0.1, so the per-IP login tier (30 per 15 min for any account) is
 * raised unless a test sets it; the per-account tiers keep their defaults.
 */
export function spawnApi(env: Record<string, string | undefined> = {}): Promise<ChildApp> {
  return spawnApp({
    args: ['dist/server.js'],
    cwd: apiRoot,
    env: {
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: inject('databaseUrl'),
      RATE_LIMIT_AUTH_IP_MAX: '1000000',
      ...env,
    },
  });
}
