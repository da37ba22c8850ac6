import { createHmac, randomBytes } from 'node:crypto';
import { type ChildApp, waitFor } from '@bulwark/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawnApi } from '../helpers/api-process.js';
import { apiClient, uniqueTenant } from '../helpers/client.js';

const INVITATION_INVALID = {
  statusCode: 403,
  code: 'BULWARK_API_INVITATION_INVALID',
  error: 'Forbidden',
  message:
    "This invitation is not valid for this tenant and email: it may be expired, already used or meant for someone else; ask the tenant's admin for a new one",
};
const SECRET = randomBytes(48).toString('base64url');
/** An HS256 JWT signed with the API's secret (node:crypto; the test must not trust the API's own signer). */
function sign(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${unsigned}.${createHmac('sha256', SECRET).update(unsigned).digest('base64url')}`;
}
const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

// Issue 16: the holes an attacker found in the reference API, as journeys against the API as a
// real process on real PostgreSQL and Redis.
describe('issue 16: invitations, live authorization, no 5xx from input', () => {
  let app: ChildApp;
  let api: ReturnType<typeof apiClient>;
  let database: pg.Pool;
  beforeAll(async () => {
    app = await spawnApi({ REDIS_URL: inject('redisUrl'), JWT_SECRET: SECRET });
    api = apiClient(app.url);
    database = new pg.Pool({ connectionString: inject('databaseUrl'), max: 1 });
  });
  afterAll(async () => {
    await database?.end();
    await app?.stop();
  });

  it('joining an existing tenant takes a valid invitation, used once, for that email', async () => {
    const acme = uniqueTenant('acme');
    const other = uniqueTenant('other');
    expect((await api.register(acme, 'alice@acme.test')).body.role).toBe('admin');
    const alice = await api.login(acme, 'alice@acme.test');

    // Mallory: a tenant name is not a key.
    const mallory = await api.register(acme, 'mallory@attacker.test');
    expect(mallory.status).toBe(403);
    expect(mallory.body).toStrictEqual({
      statusCode: 403,
      code: 'BULWARK_API_INVITATION_REQUIRED',
      error: 'Forbidden',
      message:
        'This tenant name is taken; to join it, ask the tenant\'s admin for an invitation and send it as "invitation", or pick another tenant name to create your own',
    });

    // A valid invitation: 201 with the invited role.
    const created = await api.request<Record<string, string>>('POST', '/api/v1/admin/invitations', {
      token: alice,
      body: { email: 'Bob@Acme.test', role: 'moderator' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toStrictEqual({
      token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      email: 'bob@acme.test',
      role: 'moderator',
      expiresAt: expect.any(String),
    });
    const week = Date.parse(created.body.expiresAt!) - Date.now();
    expect(week).toBeGreaterThan(6 * 86_400_000);
    expect(week).toBeLessThanOrEqual(7 * 86_400_000);
    const bob = await api.register(acme, 'bob@acme.test', undefined, created.body.token);
    expect(bob.status).toBe(201);
    expect(bob.body).toStrictEqual({
      id: expect.any(String),
      email: 'bob@acme.test',
      tenant: acme,
      role: 'moderator',
    });

    // Reused.
    const reused = await api.register(acme, 'bob2@acme.test', undefined, created.body.token);
    expect(reused.status).toBe(403);
    expect(reused.body).toStrictEqual(INVITATION_INVALID);
    const reusedSameEmail = await api.register(
      acme,
      'bob@acme.test',
      undefined,
      created.body.token,
    );
    expect(reusedSameEmail.body).toStrictEqual(INVITATION_INVALID);

    // Wrong email.
    const forCarol = await api.invite(alice, 'carol@acme.test');
    const wrongEmail = await api.register(acme, 'mallory@attacker.test', undefined, forCarol);
    expect(wrongEmail.body).toStrictEqual(INVITATION_INVALID);
    // Carol's invitation still works for Carol (a failed attempt does not burn it).
    expect((await api.register(acme, 'carol@acme.test', undefined, forCarol)).body.role).toBe(
      'user',
    );

    // Another tenant's invitation.
    await api.register(other, 'owner@other.test');
    const otherAdmin = await api.login(other, 'owner@other.test');
    const foreign = await api.invite(otherAdmin, 'mallory@attacker.test', 'admin');
    const crossTenant = await api.register(acme, 'mallory@attacker.test', undefined, foreign);
    expect(crossTenant.body).toStrictEqual(INVITATION_INVALID);

    // Expired.
    const forDave = await api.invite(alice, 'dave@acme.test');
    await database.query(
      `UPDATE invitations SET expires_at = now() - interval '1 second'
        WHERE email = 'dave@acme.test' AND tenant_id = (SELECT id FROM tenants WHERE slug = $1)`,
      [acme],
    );
    const expired = await api.register(acme, 'dave@acme.test', undefined, forDave);
    expect(expired.body).toStrictEqual(INVITATION_INVALID);

    // An invitation sent with a tenant name that does not exist creates nothing.
    const nowhere = uniqueTenant('nowhere');
    const ghost = await api.register(nowhere, 'mallory@attacker.test', undefined, foreign);
    expect(ghost.body).toStrictEqual(INVITATION_INVALID);
    expect((await api.register(nowhere, 'first@nowhere.test')).body.role).toBe('admin');

    // Only admins invite.
    const bobToken = await api.login(acme, 'bob@acme.test');
    const byModerator = await api.request('POST', '/api/v1/admin/invitations', {
      token: bobToken,
      body: { email: 'x@acme.test' },
    });
    expect(byModerator.status).toBe(403);

    // Nobody got in uninvited.
    const users = await api.request<{ items: { email: string; role: string }[] }>(
      'GET',
      '/api/v1/admin/users',
      { token: alice },
    );
    expect(users.body.items.map((user) => [user.email, user.role])).toStrictEqual([
      ['alice@acme.test', 'admin'],
      ['bob@acme.test', 'moderator'],
      ['carol@acme.test', 'user'],
    ]);
  });

  it('takes rights away on the very next request: demotion, removal, logout, last admin', async () => {
    const tenant = uniqueTenant('live');
    const owner = (await api.register(tenant, 'owner@live.test')).body;
    const ownerToken = await api.login(tenant, 'owner@live.test');
    const deputy = (await api.join(tenant, ownerToken, 'deputy@live.test', 'admin')).body;
    const member = (await api.join(tenant, ownerToken, 'member@live.test')).body;
    const deputyToken = await api.login(tenant, 'deputy@live.test');
    const memberToken = await api.login(tenant, 'member@live.test');

    // The deputy is an admin now; demoted, the same token is refused on the next request.
    expect((await api.request('GET', '/api/v1/admin/users', { token: deputyToken })).status).toBe(
      200,
    );
    const demoted = await api.request('PATCH', `/api/v1/admin/users/${deputy.id}`, {
      token: ownerToken,
      body: { role: 'user' },
    });
    expect(demoted.body).toMatchObject({ id: deputy.id, role: 'user' });
    const afterDemotion = await api.request('GET', '/api/v1/admin/users', { token: deputyToken });
    expect(afterDemotion.status).toBe(403);
    expect(afterDemotion.body).toMatchObject({ code: 'BULWARK_API_FORBIDDEN' });
    // …and it cannot demote the real admin and promote itself back.
    const coup = await api.request('PATCH', `/api/v1/admin/users/${owner.id}`, {
      token: deputyToken,
      body: { role: 'user' },
    });
    expect(coup.status).toBe(403);
    const me = await api.request('GET', '/api/v1/me', { token: deputyToken });
    expect(me.body).toMatchObject({ role: 'user' });

    // Removed: the member's token answers 401 from the next request.
    expect((await api.request('GET', '/api/v1/notes', { token: memberToken })).status).toBe(200);
    const removed = await api.request('DELETE', `/api/v1/admin/users/${member.id}`, {
      token: ownerToken,
    });
    expect(removed.status).toBe(204);
    const afterRemoval = await api.request('GET', '/api/v1/notes', { token: memberToken });
    expect(afterRemoval.status).toBe(401);
    expect(afterRemoval.body).toMatchObject({ code: 'BULWARK_API_UNAUTHORIZED' });
    const again = await api.request('DELETE', `/api/v1/admin/users/${member.id}`, {
      token: ownerToken,
    });
    expect(again.status).toBe(404);

    // The last admin can neither be demoted nor removed, not even by themself.
    const lastAdmin = {
      statusCode: 409,
      code: 'BULWARK_API_LAST_ADMIN',
      error: 'Conflict',
      message: 'This is the last admin of the tenant; promote another user to admin first',
    };
    const selfDemotion = await api.request('PATCH', `/api/v1/admin/users/${owner.id}`, {
      token: ownerToken,
      body: { role: 'moderator' },
    });
    expect(selfDemotion.body).toStrictEqual(lastAdmin);
    const selfRemoval = await api.request('DELETE', `/api/v1/admin/users/${owner.id}`, {
      token: ownerToken,
    });
    expect(selfRemoval.body).toStrictEqual(lastAdmin);
    // With a second admin, the first can step down.
    await api.request('PATCH', `/api/v1/admin/users/${deputy.id}`, {
      token: ownerToken,
      body: { role: 'admin' },
    });
    const stepDown = await api.request('PATCH', `/api/v1/admin/users/${owner.id}`, {
      token: ownerToken,
      body: { role: 'user' },
    });
    expect(stepDown.body).toMatchObject({ role: 'user' });

    // Logout: 204, then that token is refused; another token of the same user still works.
    const first = await api.login(tenant, 'owner@live.test');
    const second = await api.login(tenant, 'owner@live.test');
    const logout = await api.request('POST', '/auth/logout', { token: first });
    expect(logout.status).toBe(204);
    const afterLogout = await api.request('GET', '/api/v1/me', { token: first });
    expect(afterLogout.status).toBe(401);
    expect(afterLogout.body).toMatchObject({ code: 'BULWARK_API_UNAUTHORIZED' });
    expect((await api.request('POST', '/auth/logout', { token: first })).status).toBe(401);
    expect((await api.request('GET', '/api/v1/me', { token: second })).status).toBe(200);
  });

  it('registers a redis health check next to the rate-limit store (one client via @fastify/redis)', async () => {
    const detailed = await waitFor(
      async () => {
        const body = (await (await fetch(`${app.url}/health/detailed`)).json()) as {
          checks: Record<string, { status: string; critical?: boolean }>;
        };
        return body.checks.redis?.status === 'pass' && body;
      },
      { what: 'the redis check to pass', timeoutMs: 15_000 },
    );
    expect(detailed.checks['rate-limit-store']?.status).toBe('pass');
  });

  it('tokens carry iss and aud, and a token signed with the secret but another iss or aud is refused', async () => {
    const tenant = uniqueTenant('claims');
    await api.register(tenant, 'c@claims.test');
    const token = await api.login(tenant, 'c@claims.test');
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({
      iss: 'bulwark-api',
      aud: 'bulwark-api',
      jti: expect.any(String),
    });
    // The role is never in the token: it is read from the database on each request.
    expect(claims).not.toHaveProperty('role');
    const status = async (changes: Record<string, unknown>) =>
      (await api.request('GET', '/api/v1/me', { token: sign({ ...claims, ...changes }) })).status;
    expect(await status({})).toBe(200);
    expect(await status({ iss: 'someone-else' })).toBe(401);
    expect(await status({ aud: 'another-api' })).toBe(401);
    expect(await status({ iss: undefined })).toBe(401);
    expect(await status({ aud: undefined })).toBe(401);
  });

  it('answers 400, never 5xx, to the tampered cursor, the dash id and text PostgreSQL cannot store', async () => {
    const tenant = uniqueTenant('input');
    await api.register(tenant, 'i@input.test');
    const token = await api.login(tenant, 'i@input.test');
    const invalidCursor = {
      statusCode: 400,
      code: 'BULWARK_API_INVALID_CURSOR',
      error: 'Bad Request',
      message:
        'cursor is not one this API issued; pass nextCursor from the previous page unchanged',
    };
    for (const cursor of [
      cursorOf(['1', '0123456789abcdef0123456789abcdef-123']),
      cursorOf(['2024-01-01T00:00:00.000Z', '-'.repeat(36)]),
      cursorOf(['2024-02-30T00:00:00.000Z', '00000000-0000-4000-8000-000000000000']),
      cursorOf(['0000-01-01T00:00:00.000Z', '00000000-0000-4000-8000-000000000000']),
      cursorOf(['2024-01-01T00:00:00.000Z', '00000000-0000-4000-8000-000000000000', 3]),
      cursorOf({ 0: 'x' }),
    ]) {
      const response = await api.request('GET', `/api/v1/notes?cursor=${cursor}`, { token });
      expect(response.body, cursor).toStrictEqual(invalidCursor);
    }
    const dashes = await api.request('GET', `/api/v1/notes/${'-'.repeat(36)}`, { token });
    expect(dashes.status).toBe(400);
    expect(dashes.body).toMatchObject({
      code: 'FST_ERR_VALIDATION',
      message: 'params/id must match format "uuid"',
    });

    const nulTitle = await api.request('POST', '/api/v1/notes', {
      token,
      body: { title: 'a\u0000b', body: '' },
    });
    expect(nulTitle.body).toStrictEqual({
      statusCode: 400,
      code: 'BULWARK_API_INVALID_TEXT',
      error: 'Bad Request',
      message:
        'body/title must be valid Unicode text without NUL characters or unpaired surrogates',
    });
    const loneSurrogate = await api.request('POST', '/api/v1/notes', {
      token,
      rawBody: '{"title":"ok","body":"broken \\ud800 text"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(loneSurrogate.body).toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/^body\/body must be valid Unicode/),
    });
    const nulQuery = await api.request('GET', '/api/v1/notes?cursor=%00', { token });
    expect(nulQuery.body).toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/^querystring\/cursor must be valid Unicode/),
    });
    // A well-formed astral character is fine.
    const emoji = await api.request('POST', '/api/v1/notes', {
      token,
      body: { title: 'ok \u{1F600}', body: '' },
    });
    expect(emoji.status).toBe(201);
  });
});
