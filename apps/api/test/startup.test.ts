import { fileURLToPath } from 'node:url';
import { type ChildApp, spawnApp } from '@bulwark/testing';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { migrations } from '../src/database/migrations.js';

const expected = migrations.map(({ id, name }) => ({ id, name }));

// The tests run the built server (dist/), as `pnpm start` does; the root test command builds
// every workspace package before running tests.
const apiRoot = fileURLToPath(new URL('..', import.meta.url));
const noExternalServices = {
  DATABASE_URL: undefined,
  REDIS_URL: undefined,
  NODE_ENV: 'development',
};

describe('reference API startup', () => {
  let app: ChildApp | undefined;
  afterEach(async () => {
    await app?.stop('SIGTERM');
    app = undefined;
  });

  it('starts with no DATABASE_URL and no REDIS_URL, on embedded PostgreSQL', async () => {
    app = await spawnApp({ args: ['dist/server.js'], cwd: apiRoot, env: noExternalServices });
    const health = await fetch(`${app.url}/health`);
    expect(health.status).toBe(200);

    const response = await fetch(`${app.url}/api/v1/system/migrations`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      database: string;
      items: { id: number; name: string }[];
    };
    expect(body.database).toMatch(/^\d+\.\d+/);
    expect(body.items.map(({ id, name }) => ({ id, name }))).toStrictEqual(expected);
    expect(app.output()).toContain('running embedded PostgreSQL (PGlite)');
    expect(app.output()).toContain('rate limits are per process and the queue is disabled');

    const exit = await app.stop('SIGTERM');
    app = undefined;
    expect(exit.code).toBe(0);
  });

  it('uses DATABASE_URL and REDIS_URL when they are set', async () => {
    app = await spawnApp({
      args: ['dist/server.js'],
      cwd: apiRoot,
      env: {
        NODE_ENV: 'development',
        DATABASE_URL: inject('databaseUrl'),
        REDIS_URL: inject('redisUrl'),
      },
    });
    const response = await fetch(`${app.url}/api/v1/system/migrations`);
    const body = (await response.json()) as { items: unknown[] };
    expect(body.items).toHaveLength(expected.length);
    expect(app.output()).toContain('using PostgreSQL from DATABASE_URL');
    expect(app.output()).toContain('using Redis from REDIS_URL');
    expect(app.output()).not.toContain('PGlite');
  });

  it('runs migrations once when two instances start together on one database', async () => {
    const env = {
      NODE_ENV: 'development',
      DATABASE_URL: inject('databaseUrl'),
      REDIS_URL: undefined,
    };
    const [first, second] = await Promise.all([
      spawnApp({ args: ['dist/server.js'], cwd: apiRoot, env }),
      spawnApp({ args: ['dist/server.js'], cwd: apiRoot, env }),
    ]);
    try {
      for (const instance of [first, second]) {
        const body = (await (await fetch(`${instance.url}/api/v1/system/migrations`)).json()) as {
          items: unknown[];
        };
        expect(body.items).toHaveLength(expected.length);
      }
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });
});
