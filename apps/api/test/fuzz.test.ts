import { fileURLToPath } from 'node:url';
import { type ChildApp, spawnApp } from '@bulwark/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { apiClient, uniqueTenant } from './helpers/client.js';

const apiRoot = fileURLToPath(new URL('..', import.meta.url));
// Per route, so every route gets its share whatever the weights: 19 × 140 = 2,660 cases.
const RUNS_PER_ROUTE = 140;

/** Every route, with `:param` where a path parameter is fuzzed. */
const routes = [
  ['POST', '/auth/register'],
  ['POST', '/auth/login'],
  ['POST', '/auth/logout'],
  ['GET', '/api/v1/me'],
  ['GET', '/api/v1/me/emails'],
  ['POST', '/api/v1/notes'],
  ['GET', '/api/v1/notes'],
  ['GET', '/api/v1/notes/:param'],
  ['DELETE', '/api/v1/notes/:param'],
  ['GET', '/api/v1/admin/users'],
  ['PATCH', '/api/v1/admin/users/:param'],
  ['DELETE', '/api/v1/admin/users/:param'],
  ['POST', '/api/v1/admin/invitations'],
  ['GET', '/api/v1/admin/queues'],
  ['POST', '/api/v1/admin/queues/:param/replay'],
  ['GET', '/api/v1/system/migrations'],
  ['GET', '/hello'],
  ['GET', '/health'],
  ['GET', '/docs/json'],
] as const;

// Strings a hostile client sends: any code point (NUL, lone surrogates, astral, controls),
// with the troublemakers mixed in often enough to matter.
const nasty = fc.constantFrom(
  '\u0000',
  '\ud800',
  '\udfff',
  '\ud83d',
  '\u{1F600}',
  '\u2028',
  '\ufeff',
);
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc
    .tuple(fc.string({ maxLength: 10 }), nasty, fc.string({ unit: 'binary', maxLength: 10 }))
    .map((parts) => parts.join('')),
  fc.constantFrom('', 'acme', 'admin', 'user', 'root', 'email', '-x', 'A'.repeat(70)),
  fc.emailAddress(),
  fc.constant('correct horse battery staple'),
);
const fieldNames = fc.oneof(
  fc.constantFrom(
    'tenant',
    'email',
    'password',
    'invitation',
    'title',
    'body',
    'role',
    'limit',
    '__proto__',
    'constructor',
    'prototype',
  ),
  text,
);

/**
 * JSON as text, written here rather than with JSON.stringify of an object: an object literal or
 * a dictionary with a `__proto__` key sets the prototype instead of holding the key, so the
 * server never saw one. Keys repeat, values nest, strings are full Unicode.
 */
const { json } = fc.letrec<{ json: string; value: string; object: string; array: string }>(
  (tie) => ({
    json: fc.oneof({ depthSize: 'small' }, tie('object'), tie('value'), tie('array')),
    value: fc.oneof(
      text.map((value) => JSON.stringify(value)),
      fc
        .oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null))
        .map((value) => JSON.stringify(value)),
      fc.constantFrom('1e999', '-0', '123456789012345678901234567890'),
      tie('object'),
      tie('array'),
    ),
    object: fc
      .array(fc.tuple(fieldNames, tie('value')), { maxLength: 6 })
      .map(
        (entries) =>
          `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`,
      ),
    array: fc.array(tie('value'), { maxLength: 4 }).map((values) => `[${values.join(',')}]`),
  }),
);

/** A plausible value for a field, or one with a hostile character slipped in, or any text. */
function field(plausible: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    plausible,
    fc.tuple(plausible, nasty, fc.nat()).map(([value, bad, at]) => {
      const index = value.length === 0 ? 0 : at % value.length;
      return value.slice(0, index) + bad + value.slice(index);
    }),
    text,
  );
}

/**
 * Near-miss bodies: every field the routes read (Fastify strips the ones a route does not
 * declare), each plausible or hostile, plus sometimes a `__proto__` key written into the text.
 */
const nearMiss = fc
  .record({
    tenant: field(fc.constantFrom('acme', 'fuzz-tenant', 'a1')),
    email: field(fc.emailAddress()),
    password: field(fc.constant('correct horse battery staple')),
    invitation: field(fc.base64String({ minLength: 4, maxLength: 44 })),
    title: field(fc.string({ minLength: 1, maxLength: 60 })),
    body: fc.oneof(
      { arbitrary: field(fc.string({ maxLength: 200 })), weight: 4 },
      fc.integer(),
      fc.constant(null),
    ),
    role: field(fc.constantFrom('admin', 'moderator', 'user')),
    limit: fc.oneof(fc.integer({ min: -5, max: 2000 }), text),
    // One body in five carries the key (the server refuses it: onProtoPoisoning 'error').
    proto: fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 4 },
      fc.constantFrom('{"isAdmin":true}', '{"role":"admin"}', 'null', '[]'),
    ),
  })
  .map(({ proto, ...fields }) => {
    const entries = Object.entries(fields).map(
      ([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`,
    );
    if (proto !== undefined) entries.push(`"__proto__":${proto}`);
    return `{${entries.join(',')}}`;
  });

/** Percent-encoded raw bytes: %00, invalid UTF-8, encoded surrogates (%ED%A0%80), anything. */
const encodedBytes = fc
  .uint8Array({ maxLength: 60 })
  .map((bytes) => [...bytes].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join(''));
// Cursors shaped like the API's (base64url JSON [time, id]) with each half near-valid or not.
const hexOrDash = fc.constantFrom(...'0123456789abcdef-');
const cursorLike = fc
  .tuple(
    fc.oneof(
      text,
      fc.date({ noInvalidDate: false }).map(String),
      fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
      fc.integer().map(String),
    ),
    fc.oneof(text, fc.uuid(), {
      arbitrary: fc.string({ unit: hexOrDash, minLength: 36, maxLength: 36 }),
      weight: 2,
    }),
  )
  .map((pair) => Buffer.from(JSON.stringify(pair)).toString('base64url'));
const queryValue = fc.oneof(
  encodedBytes,
  { arbitrary: cursorLike, weight: 3 },
  fc.integer().map(String),
  fc.constantFrom('', '20', '0', '101', '1e2', '-1', 'null', '%'),
);
const query = fc
  .tuple(
    fc.oneof(fc.constant(undefined), { arbitrary: queryValue, weight: 2 }),
    fc.option(queryValue, { nil: undefined }),
    fc.array(fc.tuple(fc.constantFrom('limit', 'cursor', '__proto__', 'x'), queryValue), {
      maxLength: 2,
    }),
  )
  .map(([cursor, limit, more]) => {
    const pairs: [string, string][] = [...more];
    if (cursor !== undefined) pairs.unshift(['cursor', cursor]);
    if (limit !== undefined) pairs.push(['limit', limit]);
    return pairs.length ? `?${pairs.map(([key, value]) => `${key}=${value}`).join('&')}` : '';
  });
const pathParam = fc.oneof(
  fc.uuid(),
  encodedBytes,
  fc.constantFrom(
    '-'.repeat(36),
    'email',
    'no-such-queue',
    '00000000-0000-0000-0000-000000000000',
    'x'.repeat(200),
  ),
);

// Header values fetch can send: printable Latin-1 (it refuses NUL, CR and LF itself).
const headerText = fc
  .array(fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff })), {
    maxLength: 80,
  })
  .map((codes) => String.fromCharCode(...codes));
const contentType = fc.oneof(
  { arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8'), weight: 6 },
  fc.constantFrom(
    'application/json; charset=latin1',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
  ),
  headerText,
);

describe('bad input fuzz (fast-check)', () => {
  let app: ChildApp;
  let token: string;
  let foreignToken: string;
  beforeAll(async () => {
    app = await spawnApp({
      args: ['dist/server.js'],
      cwd: apiRoot,
      env: {
        NODE_ENV: 'production',
        LOG_LEVEL: 'fatal',
        DATABASE_URL: inject('databaseUrl'),
        JWT_SECRET: 'k7Fq2vR9xLm4Pz8sWc1Ty6Hb3Nd5Jg0E-fuzz',
        METRICS_TOKEN: 'm'.repeat(20),
        CORS_ORIGIN: 'https://app.example.com',
        // One client sends every case: keep the rate tiers out of the way of coverage.
        RATE_LIMIT_GLOBAL_MAX: '1000000',
        RATE_LIMIT_TENANT_MAX: '1000000',
        RATE_LIMIT_USER_MAX: '1000000',
        RATE_LIMIT_AUTH_MAX: '1000000',
        RATE_LIMIT_AUTH_ACCOUNT_MAX: '1000000',
        RATE_LIMIT_AUTH_IP_MAX: '1000000',
      },
    });
    const api = apiClient(app.url);
    const tenant = uniqueTenant('fuzz');
    await api.register(tenant, 'admin@fuzz.test');
    token = await api.login(tenant, 'admin@fuzz.test');
    const other = uniqueTenant('fuzz-other');
    await api.register(other, 'admin@fuzz.test');
    foreignToken = await api.login(other, 'admin@fuzz.test');
  });
  afterAll(async () => {
    await app?.stop();
  });

  it.each(
    routes,
  )('%s %s: generated bodies, query strings, path params and headers never get a 5xx', async (method, route) => {
    const authorization = fc.oneof(
      fc.constant(undefined),
      { arbitrary: fc.constant('token'), weight: 12 },
      fc.constant('foreign'),
      headerText,
      headerText.map((junk) => `Bearer ${junk}`),
      fc.nat({ max: 200 }).map((at) => `tampered:${at}`),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(json, { arbitrary: nearMiss, weight: 6 }, text),
        contentType,
        query,
        pathParam,
        authorization,
        fc.option(headerText, { nil: undefined }),
        async (body, type, search, param, auth, extra) => {
          const path = route.replace(':param', param) + search;
          const headers: Record<string, string> = { 'content-type': type };
          // Logging out the shared token would turn every later case into a 401.
          const mine = route === '/auth/logout' ? undefined : token;
          if (auth === 'token' && mine) headers.authorization = `Bearer ${mine}`;
          else if (auth === 'foreign') headers.authorization = `Bearer ${foreignToken}`;
          else if (auth?.startsWith('tampered:')) {
            const at = Number(auth.slice(9)) % token.length;
            const flipped = token[at] === 'A' ? 'B' : 'A';
            headers.authorization = `Bearer ${token.slice(0, at)}${flipped}${token.slice(at + 1)}`;
          } else if (auth !== undefined && auth !== 'token') headers.authorization = auth;
          if (extra !== undefined) {
            headers['x-forwarded-for'] = extra;
            headers.origin = extra;
            headers['accept-language'] = extra;
          }
          const response = await fetch(app.url + path, {
            method,
            headers,
            body: method === 'GET' ? undefined : body,
          });
          const answer = await response.text();
          const what = `${method} ${route}: ${method} ${path} ${JSON.stringify(headers)} ${JSON.stringify(body.slice(0, 300))} → ${response.status} ${answer.slice(0, 300)}`;
          expect(response.status, what).toBeLessThan(500);
          if (response.status >= 400) {
            const parsed = JSON.parse(answer) as Record<string, unknown>;
            expect(Object.keys(parsed).sort(), what).toStrictEqual([
              'code',
              'error',
              'message',
              'statusCode',
            ]);
            expect(parsed.statusCode, what).toBe(response.status);
            expect(parsed.code, what).toMatch(/^(BULWARK|FST)_[A-Z0-9_]+$/);
          }
        },
      ),
      { numRuns: RUNS_PER_ROUTE },
    );
    // The process survived all of it, and the shared token still works.
    expect(app.child.exitCode).toBeNull();
    expect((await fetch(`${app.url}/health`)).status).toBe(200);
    const me = await fetch(`${app.url}/api/v1/me`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(me.status).toBe(200);
  });
});
