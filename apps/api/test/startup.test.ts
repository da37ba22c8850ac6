import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type ChildApp, createDatabase, spawnApp } from '@bulwark/testing';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { DEFAULT_DATA_DIR, embeddedDataDir } from '../src/database/data-dir.js';
import { migrations } from '../src/database/migrations.js';
import { apiClient, uniqueTenant } from './helpers/client.js';
import { outputEnded } from './helpers/output.js';

const expected = migrations.map(({ id, name }) => ({ id, name }));

// The tests run the built server (dist/), as `pnpm start` does; the root test command builds
// every workspace package before running tests.
const apiRoot = fileURLToPath(new URL('..', import.meta.url));
const noExternalServices = {
  DATABASE_URL: undefined,
  REDIS_URL: undefined,
  NODE_ENV: 'development',
  // Tests run side by side: none may share the default data folder.
  PGLITE_DATA_DIR: 'memory://',
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
    expect(app.output()).toContain('running embedded PostgreSQL (PGlite) in memory');
    expect(app.output()).toContain('rate limits are per process and the queue is disabled');

    const { output, child } = app;
    const exit = await app.stop('SIGTERM');
    app = undefined;
    expect(exit.code).toBe(0);
    await outputEnded(child);
    // The embedded database stops last: after the pool that talks to it has ended.
    const poolEnded = output().indexOf('shutdown step: pool ended');
    expect(poolEnded).toBeGreaterThan(-1);
    expect(output().indexOf('shutdown step: embedded database stopped')).toBeGreaterThan(poolEnded);
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

  it('applies each migration exactly once when 6 processes start together on an EMPTY database', async () => {
    const database = await createDatabase();
    try {
      const script = `
        import { migrateDatabase } from './dist/database/connect.js';
        const result = await migrateDatabase(process.env.DATABASE_URL);
        console.log(JSON.stringify(result));`;
      const runs = await Promise.all(
        Array.from({ length: 6 }, () =>
          promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
            cwd: apiRoot,
            env: { ...process.env, DATABASE_URL: database.url },
          }).then(
            ({ stdout }) => JSON.parse(stdout) as { applied: string[]; total: number },
            (error: Error & { stderr?: string }) => ({ failed: error.stderr ?? error.message }),
          ),
        ),
      );
      // No process failed, and between them they applied every migration once.
      expect(runs.filter((run) => 'failed' in run)).toStrictEqual([]);
      const applied = runs.flatMap((run) => ('applied' in run ? run.applied : []));
      expect(applied.sort()).toStrictEqual(expected.map(({ id, name }) => `${id}-${name}`).sort());
      // A client, not a pool: end() resolves once the connection has closed, before the drop.
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ id: number; name: string; n: number }>(
          'SELECT id, name, count(*) OVER (PARTITION BY id)::int AS n FROM schema_migrations ORDER BY id',
        );
        expect(rows).toStrictEqual(expected.map(({ id, name }) => ({ id, name, n: 1 })));
      } finally {
        await client.end();
      }
    } finally {
      await database.drop();
    }
  });

  it('keeps embedded data and the generated JWT secret across a restart', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'bulwark-pglite-'));
    const env = {
      DATABASE_URL: undefined,
      REDIS_URL: undefined,
      JWT_SECRET: undefined,
      NODE_ENV: 'development',
      PGLITE_DATA_DIR: join(folder, 'pglite'),
    };
    try {
      app = await spawnApp({
        args: ['dist/server.js'],
        cwd: apiRoot,
        env,
        // PGlite creates (initdb) or opens a database on disk: slow on a busy machine.
        readyTimeoutMs: 60_000,
      });
      expect(app.output()).toContain(`data lives in ${join(folder, 'pglite')}`);
      const api = apiClient(app.url);
      const tenant = uniqueTenant('keep');
      expect((await api.register(tenant, 'k@x.test')).status).toBe(201);
      const token = await api.login(tenant, 'k@x.test');
      const note = await api.request<{ id: string }>('POST', '/api/v1/notes', {
        token,
        body: { title: 'kept', body: 'across a restart' },
      });
      expect(note.status).toBe(201);
      expect((await app.stop('SIGTERM')).code).toBe(0);
      app = undefined;
      expect((await stat(join(folder, 'jwt-secret'))).mode & 0o777).toBe(0o600);

      app = await spawnApp({
        args: ['dist/server.js'],
        cwd: apiRoot,
        env,
        // PGlite creates (initdb) or opens a database on disk: slow on a busy machine.
        readyTimeoutMs: 60_000,
      });
      const again = await apiClient(app.url).request<{ id: string; title: string }>(
        'GET',
        `/api/v1/notes/${note.body.id}`,
        { token },
      );
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ id: note.body.id, title: 'kept' });
    } finally {
      await app?.stop('SIGTERM');
      app = undefined;
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('keeps embedded data in the git-ignored apps/api/.data folder by default', async () => {
    expect(DEFAULT_DATA_DIR).toBe(join(apiRoot, '.data', 'pglite'));
    expect(embeddedDataDir(undefined)).toBe(DEFAULT_DATA_DIR);
    expect(embeddedDataDir('memory://')).toBe('memory://');
    const { stdout } = await promisify(execFile)('git', ['check-ignore', DEFAULT_DATA_DIR], {
      cwd: apiRoot,
    });
    expect(stdout.trim()).toBe(DEFAULT_DATA_DIR);
  });
});
