import { fileURLToPath } from 'node:url';
import { type ChildApp, spawnApp } from '@bulwark/testing';
import { inject } from 'vitest';

const apiRoot = fileURLToPath(new URL('../..', import.meta.url));

/** The API as a real process on this run's PostgreSQL, test mode, warn-level logs, `env` last. */
export function spawnApi(env: Record<string, string | undefined> = {}): Promise<ChildApp> {
  return spawnApp({
    args: ['dist/server.js'],
    cwd: apiRoot,
    env: { NODE_ENV: 'test', LOG_LEVEL: 'warn', DATABASE_URL: inject('databaseUrl'), ...env },
  });
}
