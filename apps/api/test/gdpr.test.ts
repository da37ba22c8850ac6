import { fileURLToPath } from 'node:url';
import { type ChildApp, spawnApp, waitFor } from '@bulwark/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { apiClient, uniqueTenant } from './helpers/client.js';

const apiRoot = fileURLToPath(new URL('..', import.meta.url));

describe('GDPR export and erasure', () => {
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
        LOG_LEVEL: 'info',
        DATABASE_URL: inject('databaseUrl'),
        REDIS_URL: inject('redisUrl'),
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

  /** Rows of any table in the schema whose text mentions `value` (an id or an email). */
  async function rowsMentioning(value: string): Promise<Record<string, number>> {
    const { rows: tables } = await pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables
        WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    expect(tables.map((table) => table.table_name)).toEqual(
      expect.arrayContaining(['tenants', 'users', 'notes', 'outbox']),
    );
    const found: Record<string, number> = {};
    for (const { table_name: table } of tables) {
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${table}" AS t WHERE strpos(t::text, $1) > 0`,
        [value],
      );
      if (rows[0]!.n > 0) found[table] = rows[0]!.n;
    }
    return found;
  }

  it('exports the caller’s data, erases it without a trace, keeps a last admin, lets an admin erase a member', async () => {
    const api = apiClient(app.url);
    const tenant = uniqueTenant('gdpr');
    const alice = await api.register(tenant, 'alice@gdpr.test');
    const aliceToken = await api.login(tenant, 'alice@gdpr.test');
    // Joining alice's tenant takes her invitation (issue 16).
    const bob = await api.join(tenant, aliceToken, 'bob@gdpr.test');
    const carol = await api.join(tenant, aliceToken, 'carol@gdpr.test');
    const bobToken = await api.login(tenant, 'bob@gdpr.test');
    for (const title of ['first', 'second']) {
      await api.request('POST', '/api/v1/notes', {
        token: bobToken,
        body: { title, body: `${title} body` },
      });
    }
    await api.request('POST', '/api/v1/notes', {
      token: aliceToken,
      body: { title: 'alice', body: '' },
    });
    await waitFor(
      async () =>
        (
          await api.request<{ items: { status: string }[] }>('GET', '/api/v1/me/emails', {
            token: bobToken,
          })
        ).body.items[0]?.status === 'sent',
      { what: "bob's welcome email" },
    );

    const exported = await api.request<{
      account: Record<string, unknown>;
      notes: { title: string; body: string }[];
      emails: { kind: string; status: string }[];
    }>('GET', '/api/v1/me/export', { token: bobToken });
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-disposition')).toBe(
      `attachment; filename="bulwark-export-${bob.body.id}.json"`,
    );
    expect(exported.body.account).toMatchObject({
      id: bob.body.id,
      email: 'bob@gdpr.test',
      tenant,
      role: 'user',
    });
    expect(exported.body.notes.map((note) => [note.title, note.body])).toStrictEqual([
      ['first', 'first body'],
      ['second', 'second body'],
    ]);
    expect(exported.body.emails.map((email) => [email.kind, email.status])).toStrictEqual([
      ['welcome-email', 'sent'],
    ]);

    // The last admin of a tenant with other members cannot leave it unmanaged.
    const lastAdmin = await api.request('DELETE', '/api/v1/me', { token: aliceToken });
    expect(lastAdmin.status).toBe(409);
    expect(lastAdmin.body).toMatchObject({ code: 'BULWARK_API_LAST_ADMIN' });
    // Members cannot erase each other.
    const notAdmin = await api.request('DELETE', `/api/v1/admin/users/${carol.body.id}`, {
      token: bobToken,
    });
    expect(notAdmin.status).toBe(403);

    expect(await rowsMentioning(bob.body.id)).not.toStrictEqual({});
    const erased = await api.request('DELETE', '/api/v1/me', { token: bobToken });
    expect(erased.status).toBe(204);
    expect(await rowsMentioning(bob.body.id)).toStrictEqual({});
    expect(await rowsMentioning('bob@gdpr.test')).toStrictEqual({});
    // Membership is read per request (issue 16): the erased account's token is refused.
    expect((await api.request('GET', '/api/v1/me/export', { token: bobToken })).status).toBe(401);
    const login = await api.request('POST', '/auth/login', {
      body: { tenant, email: 'bob@gdpr.test', password: 'correct horse battery' },
    });
    expect(login.status).toBe(401);

    // An admin erases a member of their tenant.
    const byAdmin = await api.request('DELETE', `/api/v1/admin/users/${carol.body.id}`, {
      token: aliceToken,
    });
    expect(byAdmin.status).toBe(204);
    expect(await rowsMentioning(carol.body.id)).toStrictEqual({});
    expect(await rowsMentioning('carol@gdpr.test')).toStrictEqual({});
    // Alice's own data is untouched.
    expect(await rowsMentioning(alice.body.id)).toMatchObject({ users: 1, notes: 1, outbox: 1 });

    // Erasure is logged, without the email or any content.
    const erasureLines = () =>
      app
        .output()
        .split('\n')
        .filter((line) => line.includes('"msg":"user erased"'));
    // The child's log reaches this process through a pipe, independently of the HTTP answers.
    await waitFor(() => erasureLines().length >= 2, { what: 'two erasure log lines' });
    const erasures = erasureLines();
    expect(erasures).toHaveLength(2);
    for (const line of erasures) {
      expect(line).not.toMatch(/@gdpr\.test|first body|second body/);
    }
    expect(JSON.parse(erasures[0]!)).toMatchObject({
      by: 'self',
      userId: bob.body.id,
      notes: 2,
      emails: 1,
    });
    expect(JSON.parse(erasures[1]!)).toMatchObject({
      by: 'admin',
      userId: carol.body.id,
      notes: 0,
      emails: 1,
    });

    // Now the only member, alice may leave, and the empty tenant goes with her.
    expect((await api.request('DELETE', '/api/v1/me', { token: aliceToken })).status).toBe(204);
    expect(await rowsMentioning(alice.body.id)).toStrictEqual({});
    expect(await rowsMentioning(tenant)).toStrictEqual({});
  });
});
