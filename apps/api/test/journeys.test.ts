import { fileURLToPath } from 'node:url';
import { type ChildApp, spawnApp, waitFor } from '@bulwark/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { apiClient, uniqueTenant } from './helpers/client.js';

const apiRoot = fileURLToPath(new URL('..', import.meta.url));

interface Note {
  id: string;
  title: string;
  body: string;
  authorId: string;
  createdAt: string;
}

describe('reference API journeys (real process, real PostgreSQL)', () => {
  let app: ChildApp;
  let api: ReturnType<typeof apiClient>;
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
        REDIS_URL: inject('redisUrl'),
      },
    });
    api = apiClient(app.url);
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('register → login → notes CRUD → 3 pages → isolation → RBAC → admin → welcome email', async () => {
    const acme = uniqueTenant('acme');
    const other = uniqueTenant('other');

    const alice = await api.register(acme, 'alice@acme.test');
    expect(alice.status).toBe(201);
    expect(alice.body).toStrictEqual({
      id: alice.body.id,
      email: 'alice@acme.test',
      tenant: acme,
      role: 'admin',
    });
    const aliceToken = await api.login(acme, 'alice@acme.test');
    // Joining an existing tenant takes an invitation from its admin.
    const bob = await api.join(acme, aliceToken, 'Bob@Acme.test');
    expect(bob.body.role).toBe('user');
    expect(bob.body.email).toBe('bob@acme.test');
    const carol = await api.join(acme, aliceToken, 'carol@acme.test');
    const dave = await api.register(other, 'dave@other.test');
    expect(dave.body.role).toBe('admin');

    const bobToken = await api.login(acme, 'bob@acme.test');
    const daveToken = await api.login(other, 'dave@other.test');

    const me = await api.request('GET', '/api/v1/me', { token: bobToken });
    expect(me.body).toStrictEqual({
      id: bob.body.id,
      email: 'bob@acme.test',
      tenant: acme,
      role: 'user',
    });

    // 45 notes → pages of 20, 20, 5, newest first, no duplicates, no gaps.
    const created: Note[] = [];
    for (let index = 0; index < 45; index += 1) {
      const note = await api.request<Note>('POST', '/api/v1/notes', {
        token: aliceToken,
        body: { title: `note ${index}`, body: `body ${index}` },
      });
      expect(note.status).toBe(201);
      created.push(note.body);
    }
    const pages: Note[][] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=20&cursor=${encodeURIComponent(cursor)}` : '?limit=20';
      const page = await api.request<{ items: Note[]; nextCursor: string | null }>(
        'GET',
        `/api/v1/notes${query}`,
        {
          token: bobToken,
        },
      );
      expect(page.status).toBe(200);
      pages.push(page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(pages.map((page) => page.length)).toStrictEqual([20, 20, 5]);
    expect(pages.flat().map((note) => note.id)).toStrictEqual(
      created.map((note) => note.id).reverse(),
    );

    const first = created[0]!;
    const fetched = await api.request<Note>('GET', `/api/v1/notes/${first.id}`, {
      token: bobToken,
    });
    expect(fetched.body).toStrictEqual(first);

    // Another tenant sees nothing of acme's.
    const foreign = await api.request('GET', `/api/v1/notes/${first.id}`, { token: daveToken });
    expect(foreign.status).toBe(404);
    expect(foreign.body).toMatchObject({ code: 'BULWARK_API_NOT_FOUND' });
    const foreignList = await api.request('GET', '/api/v1/notes', { token: daveToken });
    expect(foreignList.body).toStrictEqual({ items: [], nextCursor: null });
    const foreignDelete = await api.request('DELETE', `/api/v1/notes/${first.id}`, {
      token: daveToken,
    });
    expect(foreignDelete.status).toBe(404);

    // RBAC: a user cannot delete another's note; a moderator can.
    const denied = await api.request('DELETE', `/api/v1/notes/${first.id}`, { token: bobToken });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({
      statusCode: 403,
      code: 'BULWARK_API_FORBIDDEN',
      error: 'Forbidden',
    });
    const promote = await api.request('PATCH', `/api/v1/admin/users/${carol.body.id}`, {
      token: aliceToken,
      body: { role: 'moderator' },
    });
    expect(promote.body).toMatchObject({ id: carol.body.id, role: 'moderator' });
    const carolToken = await api.login(acme, 'carol@acme.test');
    const removed = await api.request('DELETE', `/api/v1/notes/${first.id}`, { token: carolToken });
    expect(removed.status).toBe(204);
    expect(
      (await api.request('GET', `/api/v1/notes/${first.id}`, { token: aliceToken })).status,
    ).toBe(404);

    // Admin routes: 403 for a user, 200 for the admin, tenant-scoped.
    expect((await api.request('GET', '/api/v1/admin/users', { token: bobToken })).status).toBe(403);
    expect((await api.request('GET', '/api/v1/admin/queues', { token: bobToken })).status).toBe(
      403,
    );
    const users = await api.request<{ items: { email: string; role: string }[] }>(
      'GET',
      '/api/v1/admin/users',
      {
        token: aliceToken,
      },
    );
    expect(users.body.items.map((user) => [user.email, user.role])).toStrictEqual([
      ['alice@acme.test', 'admin'],
      ['bob@acme.test', 'user'],
      ['carol@acme.test', 'moderator'],
    ]);
    expect((await api.request('GET', '/api/v1/admin/queues', { token: aliceToken })).status).toBe(
      200,
    );

    // The welcome email written with the account goes out.
    const emails = await waitFor(
      async () => {
        const response = await api.request<{ items: { kind: string; status: string }[] }>(
          'GET',
          '/api/v1/me/emails',
          {
            token: bobToken,
          },
        );
        return response.body.items[0]?.status === 'sent' ? response.body.items : false;
      },
      { what: "bob's welcome email is sent", timeoutMs: 15_000 },
    );
    expect(emails).toMatchObject([{ kind: 'welcome-email', status: 'sent' }]);
    // It went through BullMQ, not the in-process fallback.
    const queues = await api.request<{
      enabled: boolean;
      queues: { name: string; completed: number }[];
    }>('GET', '/api/v1/admin/queues', { token: aliceToken });
    expect(queues.body.enabled).toBe(true);
    expect(
      queues.body.queues.find((queue) => queue.name === 'email')?.completed,
    ).toBeGreaterThanOrEqual(4);
  });

  it('answers 409 to a duplicate email in a tenant, but allows it in another tenant', async () => {
    const tenant = uniqueTenant('dup');
    expect((await api.register(tenant, 'same@x.test')).status).toBe(201);
    const invitation = await api.invite(await api.login(tenant, 'same@x.test'), 'SAME@x.test');
    const duplicate = await api.register(tenant, 'SAME@x.test', undefined, invitation);
    expect(duplicate.status).toBe(409);
    expect(duplicate.body).toStrictEqual({
      statusCode: 409,
      code: 'BULWARK_API_EMAIL_TAKEN',
      error: 'Conflict',
      message: 'An account with this email already exists in this tenant; log in instead',
    });
    expect((await api.register(uniqueTenant('dup'), 'same@x.test')).status).toBe(201);
  });

  it('gives one generic 401 for a wrong password and for an unknown account', async () => {
    const tenant = uniqueTenant('login');
    await api.register(tenant, 'real@x.test');
    const wrongPassword = await api.request('POST', '/auth/login', {
      body: { tenant, email: 'real@x.test', password: 'not the password!' },
    });
    const unknown = await api.request('POST', '/auth/login', {
      body: { tenant, email: 'ghost@x.test', password: 'not the password!' },
    });
    expect(wrongPassword.status).toBe(401);
    expect(unknown.body).toStrictEqual(wrongPassword.body);
  });

  it('limits login attempts per IP + account: 429 with Retry-After after 5 tries, registration included', async () => {
    const tenant = uniqueTenant('brute');
    await api.register(tenant, 'other@x.test');
    await api.join(tenant, await api.login(tenant, 'other@x.test'), 'target@x.test');
    const attempt = () =>
      api.request('POST', '/auth/login', {
        body: { tenant, email: 'target@x.test', password: 'guess guess guess' },
      });
    // Registration and login share the tier: the target's registration was the first try.
    for (let index = 0; index < 4; index += 1) expect((await attempt()).status).toBe(401);
    const limited = await attempt();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('ratelimit-policy')).toContain('"auth";q=5;w=900');
    expect(limited.body).toMatchObject({ statusCode: 429, code: 'BULWARK_LIMITS_RATE_LIMITED' });
    // Another account from the same IP is not locked out by it.
    expect(await api.login(tenant, 'other@x.test')).toEqual(expect.any(String));
  });

  it('rejects a missing, forged or malformed token with 401', async () => {
    for (const token of [undefined, 'not-a-jwt', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.forged']) {
      const response = await api.request('GET', '/api/v1/me', { token });
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({ code: 'BULWARK_API_UNAUTHORIZED' });
    }
  });

  it('answers 400 with what to fix for bad input', async () => {
    const tenant = uniqueTenant('bad');
    const short = await api.register(tenant, 'x@x.test', 'short');
    expect(short.status).toBe(400);
    expect(short.body).toMatchObject({
      code: 'FST_ERR_VALIDATION',
      message: 'body/password must NOT have fewer than 12 characters',
    });
    await api.register(tenant, 'y@x.test');
    const token = await api.login(tenant, 'y@x.test');
    const badId = await api.request('GET', '/api/v1/notes/123', { token });
    expect(badId.body).toMatchObject({
      statusCode: 400,
      message: 'params/id must match format "uuid"',
    });
    const badLimit = await api.request('GET', '/api/v1/notes?limit=101', { token });
    expect(badLimit.status).toBe(400);
    const badCursor = await api.request('GET', '/api/v1/notes?cursor=garbage', { token });
    expect(badCursor.body).toMatchObject({ statusCode: 400, code: 'BULWARK_API_INVALID_CURSOR' });
    const longTitle = await api.request('POST', '/api/v1/notes', {
      token,
      body: { title: 'x'.repeat(201), body: '' },
    });
    expect(longTitle.status).toBe(400);
  });

  // Found by bench/chaos bad-input: an unknown queue name answered 500 BULWARK_QUEUE_UNKNOWN.
  it('answers 404 to a replay of a queue that does not exist', async () => {
    const tenant = uniqueTenant('replay');
    await api.register(tenant, 'admin@replay.test');
    const token = await api.login(tenant, 'admin@replay.test');
    const response = await api.request('POST', '/api/v1/admin/queues/no-such-queue/replay', {
      token,
      body: {},
    });
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ statusCode: 404, code: 'BULWARK_API_NOT_FOUND' });
    const known = await api.request('POST', '/api/v1/admin/queues/email/replay', {
      token,
      body: {},
    });
    expect(known.body).toStrictEqual({ replayed: 0 });
  });
});

describe('access token expiry', () => {
  it('refuses a token after JWT_EXPIRES_IN', async () => {
    const app = await spawnApp({
      args: ['dist/server.js'],
      cwd: apiRoot,
      env: {
        NODE_ENV: 'test',
        // Every test client is 127.0.0.1: the per-IP login tier would stop the fixture's sign-ups.
        RATE_LIMIT_AUTH_IP_MAX: '1000000',
        LOG_LEVEL: 'warn',
        DATABASE_URL: inject('databaseUrl'),
        JWT_EXPIRES_IN: '1s',
      },
    });
    try {
      const api = apiClient(app.url);
      const tenant = uniqueTenant('expiry');
      await api.register(tenant, 'e@x.test');
      const token = await api.login(tenant, 'e@x.test');
      expect((await api.request('GET', '/api/v1/me', { token })).status).toBe(200);
      await waitFor(
        async () => (await api.request('GET', '/api/v1/me', { token })).status === 401,
        {
          what: 'the token to expire',
          timeoutMs: 5_000,
          intervalMs: 200,
        },
      );
    } finally {
      await app.stop();
    }
  });
});
