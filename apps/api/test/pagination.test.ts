import { fileURLToPath } from 'node:url';
import { type ChildApp, spawnApp } from '@bulwark/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { apiClient, uniqueTenant } from './helpers/client.js';

const apiRoot = fileURLToPath(new URL('..', import.meta.url));

describe('keyset pagination of notes', () => {
  let app: ChildApp;
  let pool: pg.Pool;
  beforeAll(async () => {
    app = await spawnApp({
      args: ['dist/server.js'],
      cwd: apiRoot,
      env: {
        NODE_ENV: 'test',
        // Every test client is 127.0.0.1: the per-IP login tier would stop the fixture's sign-ups.
        RATE_LIMIT_AUTH_IP_MAX: '1000000',
        LOG_LEVEL: 'warn',
        DATABASE_URL: inject('databaseUrl'),
        REDIS_URL: undefined,
        RATE_LIMIT_USER_MAX: '1000',
        RATE_LIMIT_GLOBAL_MAX: '1000',
      },
    });
    pool = new pg.Pool({ connectionString: inject('databaseUrl'), max: 2 });
    // The database may be dropped (its sessions terminated) as the test ends.
    pool.on('error', () => undefined);
  });
  afterAll(async () => {
    await app?.stop();
    await pool?.end();
  });

  it('visits each of 500 notes sharing one created_at exactly once, in order, with limit=7', async () => {
    const api = apiClient(app.url);
    const tenant = uniqueTenant('pages');
    const user = await api.register(tenant, 'p@x.test');
    const token = await api.login(tenant, 'p@x.test');
    const { rows: owners } = await pool.query<{ tenant_id: string }>(
      'SELECT tenant_id FROM users WHERE id = $1',
      [user.body.id],
    );
    const tenantId = owners[0]!.tenant_id;
    // 500 notes at one microsecond-precise instant, and 40 more inside that same millisecond:
    // a cursor rounded to the millisecond skips the latter and repeats or skips the former.
    await pool.query(
      `INSERT INTO notes (tenant_id, author_id, title, body, created_at)
       SELECT $1, $2, 'same ' || n, '', '2026-03-01 12:00:00.123456+00' FROM generate_series(1, 500) n`,
      [tenantId, user.body.id],
    );
    await pool.query(
      `INSERT INTO notes (tenant_id, author_id, title, body, created_at)
       SELECT $1, $2, 'micro ' || n, '', '2026-03-01 12:00:00.123+00'::timestamptz + n * interval '1 microsecond'
         FROM generate_series(1, 40) n`,
      [tenantId, user.body.id],
    );
    const { rows: expected } = await pool.query<{ id: string }>(
      'SELECT id FROM notes WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC',
      [tenantId],
    );
    expect(expected).toHaveLength(540);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = await api.request<{ items: { id: string }[]; nextCursor: string | null }>(
        'GET',
        `/api/v1/notes?limit=7${query}`,
        { token },
      );
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(7);
      seen.push(...page.body.items.map((note) => note.id));
      cursor = page.body.nextCursor;
      pages += 1;
    } while (cursor && pages < 200);
    expect(pages).toBe(Math.ceil(540 / 7));
    expect(seen).toStrictEqual(expected.map((row) => row.id));
  });
});
