// Bad-input barrage: fast-check generates malformed JSON, oversized bodies, prototype-pollution
// payloads, huge and numerous headers, invalid, forged, tampered and expired JWTs and unicode
// junk, sent as raw bytes to every route the API documents (plus probes and unknown paths), at a
// steady rate with bounded concurrency. The API must answer none of it with a 5xx, must not
// crash (same pid, no fatal log line), and its memory must come back after the barrage.
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDatabase, startRedis } from '@bulwark/testing';
import fc from 'fast-check';
import { account, apiEnv, secrets, uniqueTenant } from '../lib/api.mjs';
import { rssBytes, startApi } from '../lib/processes.mjs';
import { sendRaw } from '../lib/raw-http.mjs';
import { startSampler } from '../lib/sampler.mjs';
import { startLoad } from '../lib/steady-load.mjs';
import { statusText, summarize } from '../lib/windows.mjs';

const RSS_MARGIN_BYTES = 64 * 2 ** 20;
const MiB = 2 ** 20;

const b64 = (value) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
function jwt(header, payload, key) {
  const unsigned = `${b64(header)}.${b64(payload)}`;
  const signature =
    key === undefined ? '' : createHmac('sha256', key).update(unsigned).digest('base64url');
  return `${unsigned}.${signature}`;
}

/** Tokens a client could send: none of them may be accepted, none may cause a 5xx. */
function badTokens(valid, principal) {
  const now = Math.floor(Date.now() / 1000);
  const admin = { ...principal, role: 'admin', tenantId: randomUUID(), iat: now, exp: now + 900 };
  const [header, , signature] = valid.split('.');
  return {
    junk: 'not.a.jwt',
    'alg none': jwt({ alg: 'none', typ: 'JWT' }, admin),
    'wrong key': jwt({ alg: 'HS256', typ: 'JWT' }, admin, randomBytes(32)),
    'alg confusion': jwt({ alg: 'RS256', typ: 'JWT' }, admin, secrets.jwt),
    expired: jwt(
      { alg: 'HS256', typ: 'JWT' },
      { ...principal, iat: now - 7200, exp: now - 3600 },
      secrets.jwt,
    ),
    tampered: `${header}.${b64(admin)}.${signature}`,
    truncated: valid.slice(0, -5),
    huge: `${valid}${'A'.repeat(12_000)}`,
    'no scheme': valid,
  };
}

const junkText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 64 }),
  fc.constantFrom(
    '\u0000',
    '\uFEFF',
    '\uD800',
    '\u202Eevil',
    '𝕏'.repeat(40),
    '%00',
    '../'.repeat(20),
  ),
);

// Each category is plain data; `build()` turns it into a raw request for a route.
const malformedJson = fc
  .oneof(
    fc.string({ maxLength: 200 }).map((text) => ({ body: text })),
    fc.jsonValue().map((value) => ({ body: JSON.stringify(value ?? null).slice(0, -1) })),
    fc
      .integer({ min: 1_000, max: 200_000 })
      .map((depth) => ({ body: `${'['.repeat(depth)}${']'.repeat(depth)}` })),
    fc
      .integer({ min: 1_000, max: 100_000 })
      .map((depth) => ({ body: `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` })),
    fc
      .constantFrom(
        'NaN',
        '1e999999',
        '{"a":1,"a":2}',
        '\uFEFF{}',
        '{"title":"x",}',
        "{'title':'x'}",
        '',
      )
      .map((body) => ({ body })),
    fc.uint8Array({ minLength: 1, maxLength: 300 }).map((bytes) => ({ body: Buffer.from(bytes) })),
  )
  .chain((value) =>
    fc
      .constantFrom(
        'application/json',
        'application/json; charset=utf-16',
        'application/json; charset=latin1',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        undefined,
      )
      .map((type) => ({ kind: 'malformed JSON', ...value, type })),
  );
const oversized = fc
  .integer({ min: Math.floor(1.05 * MiB), max: 3 * MiB })
  .map((size) => ({ kind: 'oversized body', oversize: size, type: 'application/json' }));
const pollution = fc
  .record({
    body: fc.constantFrom(
      '{"__proto__":{"role":"admin"}}',
      '{"constructor":{"prototype":{"role":"admin"}}}',
      '{"title":"x","body":"y","__proto__":{"isAdmin":true}}',
      '{"tenant":"acme","email":"a@b.co","password":"correct horse battery","constructor":{"prototype":{"x":1}}}',
      '{"a":{"b":{"__proto__":{"polluted":true}}}}',
      '[{"__proto__":{"x":1}}]',
      '{"\\u005f_proto__":{"x":1}}',
    ),
    query: fc.constantFrom(
      '',
      '?__proto__[role]=admin',
      '?constructor[prototype][role]=admin',
      '?limit=5&__proto__=1',
      '?__proto__.role=admin',
    ),
  })
  .map((value) => ({ kind: 'prototype pollution', ...value, type: 'application/json' }));
const hugeHeaders = fc
  .oneof(
    fc.integer({ min: 8_000, max: 120_000 }).map((size) => ({ headerBytes: size })),
    fc.integer({ min: 100, max: 3_000 }).map((count) => ({ headerCount: count })),
    fc.integer({ min: 8_000, max: 60_000 }).map((size) => ({ cookieBytes: size })),
  )
  .map((value) => ({ kind: 'huge headers', ...value }));
const badJwt = fc
  .record({
    token: fc.constantFrom(
      'junk',
      'alg none',
      'wrong key',
      'alg confusion',
      'expired',
      'tampered',
      'truncated',
      'huge',
      'no scheme',
    ),
    body: fc.option(fc.constantFrom('{"title":"forged","body":"x"}', '{"role":"admin"}'), {
      nil: undefined,
    }),
  })
  .map((value) => ({ kind: 'bad JWT', ...value, type: 'application/json' }));
const unicodeJunk = fc
  .record({
    fields: fc.dictionary(
      fc.constantFrom(
        'tenant',
        'email',
        'password',
        'title',
        'body',
        'role',
        'limit',
        'cursor',
        'n',
      ),
      junkText,
      { maxKeys: 5 },
    ),
    header: fc.option(junkText, { nil: undefined }),
    query: fc.option(junkText, { nil: undefined }),
    rawPath: fc.boolean(),
  })
  .map((value) => ({ kind: 'unicode junk', ...value, type: 'application/json' }));
const badRequest = fc.record({
  input: fc.oneof(
    { weight: 3, arbitrary: malformedJson },
    { weight: 1, arbitrary: oversized },
    { weight: 2, arbitrary: pollution },
    { weight: 2, arbitrary: hugeHeaders },
    { weight: 3, arbitrary: badJwt },
    { weight: 3, arbitrary: unicodeJunk },
  ),
  route: fc.nat(),
  param: fc.oneof(
    fc.constant('existing'),
    fc.uuid(),
    junkText,
    fc.string({ minLength: 101, maxLength: 2_000 }),
    fc.constantFrom('__proto__', 'constructor', '..%2f..%2fetc%2fpasswd', '%E0%A4%A', 'null'),
  ),
  authenticated: fc.boolean(),
});

export default {
  name: 'bad-input',
  title: 'fast-check barrage of malformed, oversized, hostile and junk requests on every route',
  async run({ short, check, figure, note, log }) {
    const seconds = short ? 10 : 60;
    const rate = short ? 150 : 200;
    const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 2 ** 31);
    const settleMs = short ? 5_000 : 10_000;
    note(
      `One API process (production mode, PostgreSQL and Redis). Its routes come from its own OpenAPI document (\`GET /docs/json\`), plus /metrics, the health probes and an unknown path. For ${seconds} s, ${rate} requests/s (at most 16 in flight) of fast-check generated input (seed ${seed}; \`CHAOS_SEED=${seed}\` replays it), sent as raw bytes over one TCP connection each (node:http refuses most of it): malformed JSON (junk, truncated, nested 1,000-200,000 deep, invalid UTF-8, wrong charsets and content types), bodies of 1.05-3 MiB, \`__proto__\` / \`constructor.prototype\` payloads in bodies and query strings, one header of 8-120 kB or 100-3,000 headers or a huge cookie, JWTs that are junk, \`alg: none\`, signed with another key, RS256-labelled, expired, tampered, truncated, oversized or without the Bearer scheme, and unicode junk in body fields, header values, query strings and raw path bytes, with generated path parameters (an existing note, random UUIDs, junk, 101-2,000 characters). 4xx answers are expected; a 5xx is a failure. RSS is read from /proc/<pid>/status before (after a warm-up of logins and notes), every 500 ms during, and after ${settleMs / 1000} s of settling.`,
    );
    const redis = await startRedis();
    let database;
    let api;
    let load;
    let rss;
    try {
      database = await createDatabase(undefined, 'bulwark_chaos');
      api = await startApi(apiEnv({ DATABASE_URL: database.url, REDIS_URL: redis.url }));
      const pid = api.pid;
      const tenant = uniqueTenant('fuzz');
      const token = await account(api.url, tenant, 'admin@chaos.test');
      const principal = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
      delete principal.iat;
      delete principal.exp;
      const tokens = badTokens(token, principal);
      const created = await fetch(`${api.url}/api/v1/notes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'target', body: 'of the barrage' }),
      });
      const noteId = (await created.json()).id;
      // Warm-up: the kinds of valid work the barrage can reach (password hashing included).
      await Promise.all([
        // Own tenants: joining an existing one takes an invitation since issue 16.
        account(api.url, uniqueTenant('warm'), 'warm1@chaos.test'),
        account(api.url, uniqueTenant('warm'), 'warm2@chaos.test'),
        fetch(`${api.url}/api/v1/notes`, { headers: { authorization: `Bearer ${token}` } }),
      ]);
      const openapi = await (await fetch(`${api.url}/docs/json`)).json();
      const routes = [];
      for (const [path, methods] of Object.entries(openapi.paths)) {
        for (const method of Object.keys(methods))
          routes.push({ method: method.toUpperCase(), path });
      }
      for (const path of ['/metrics', '/health', '/health/ready', '/health/detailed', '/nope/👻']) {
        routes.push({ method: 'GET', path }, { method: 'POST', path });
      }
      log(`${routes.length} routes`);

      function build(sample) {
        const { input } = sample;
        const route = routes[sample.route % routes.length];
        const param = sample.param === 'existing' ? noteId : sample.param;
        // Lone surrogates cannot be percent-encoded; sent raw they become U+FFFD's UTF-8 bytes.
        const encode = (text) => encodeURIComponent(text.toWellFormed());
        let target = route.path.replace(/\{[^}]+\}/g, () =>
          input.rawPath ? param : encode(param),
        );
        if (input.query !== undefined) {
          target += input.query.startsWith('?') ? input.query : `?q=${encode(input.query)}`;
        }
        const headers = [];
        if (input.type) headers.push(['Content-Type', input.type]);
        if (input.kind === 'bad JWT') {
          const value = tokens[input.token];
          headers.push(['Authorization', input.token === 'no scheme' ? value : `Bearer ${value}`]);
        } else if (sample.authenticated) {
          headers.push(['Authorization', `Bearer ${token}`]);
        }
        if (input.headerBytes) headers.push(['X-Junk', 'a'.repeat(input.headerBytes)]);
        if (input.cookieBytes) headers.push(['Cookie', `session=${'c'.repeat(input.cookieBytes)}`]);
        for (let i = 0; i < (input.headerCount ?? 0); i += 1) headers.push([`X-H${i}`, String(i)]);
        if (input.header !== undefined)
          headers.push(['X-Unicode', Buffer.from(input.header.replace(/[\r\n]/g, ''))]);
        let body = input.body;
        if (input.oversize) body = `{"title":"${'a'.repeat(input.oversize)}","body":""}`;
        if (input.fields) body = JSON.stringify(input.fields);
        const method =
          body === undefined ? route.method : route.method === 'GET' ? 'POST' : route.method;
        return {
          label: input.kind,
          method,
          url: api.url,
          target: Buffer.from(target, 'utf8'),
          headers,
          body,
        };
      }

      let batch = [];
      let batchNumber = 0;
      const next = (index) => {
        // One in ten is a well-formed control request: the API must still serve them.
        if (index % 10 === 0) {
          return {
            label: 'control (valid GET /api/v1/notes)',
            url: `${api.url}/api/v1/notes?limit=5`,
            headers: [['Authorization', `Bearer ${token}`]],
          };
        }
        if (batch.length === 0) {
          batch = fc.sample(badRequest, { seed: seed + batchNumber, numRuns: 500 });
          batchNumber += 1;
        }
        return build(batch.pop());
      };

      const rssBefore = rssBytes(pid);
      rss = startSampler(() => rssBytes(pid), 500);
      load = startLoad({ rate, concurrency: 16, timeoutMs: 15_000, next, transport: sendRaw });
      await sleep(seconds * 1000);
      const { records, skipped } = await load.stop();
      load = undefined;
      log('barrage over, settling');
      await sleep(settleMs);
      const rssSamples = (await rss.stop()).filter((sample) => sample.error === undefined);
      rss = undefined;
      const alive = api.running;
      const rssAfter = alive ? rssBytes(pid) : Number.NaN;
      const live = alive ? (await fetch(`${api.url}/health/live`)).status : 0;
      const fatal = (api.output().match(/"level":60/g) ?? []).length;

      const byKind = new Map();
      for (const record of records) {
        const list = byKind.get(record.label) ?? [];
        list.push(record);
        byKind.set(record.label, list);
      }
      const all = summarize(records);
      const serverErrors = records.filter((record) => record.status >= 500);
      figure(
        'barrage',
        `${records.length} requests in ${seconds} s (${skipped} skipped, all 16 slots busy), seed ${seed}, ${routes.length} routes`,
      );
      for (const [kind, list] of [...byKind.entries()].sort()) {
        figure(kind, statusText(summarize(list).statuses));
      }
      const mb = (bytes) => `${(bytes / MiB).toFixed(0)} MiB`;
      figure(
        'RSS',
        `${mb(rssBefore)} before, peak ${mb(Math.max(...rssSamples.map((s) => s.value)))}, ${mb(rssAfter)} after ${settleMs / 1000} s`,
      );
      figure(
        'process',
        `pid ${pid} ${alive ? 'alive' : 'gone'}, /health/live ${live}, ${fatal} fatal log lines`,
      );

      check(
        serverErrors.length === 0 && records.length > 0,
        '0 5xx',
        `${serverErrors.length} of ${records.length}${serverErrors.length ? `: ${[...new Set(serverErrors.map((r) => `${r.label} → ${r.status} ${r.code ?? ''}`))].slice(0, 5).join('; ')}` : ''}; ${all.errors} answered by a reset or timeout`,
      );
      check(
        alive && api.pid === pid && live === 200 && fatal === 0,
        '0 crashes: same process alive, no fatal log line',
        `pid ${pid} ${alive ? 'alive' : 'exited'}, /health/live ${live}, ${fatal} fatal lines`,
      );
      check(
        rssAfter <= rssBefore + RSS_MARGIN_BYTES,
        `RSS back within RSS-before + 64 MiB after ${settleMs / 1000} s`,
        `${mb(rssBefore)} → ${mb(rssAfter)} (${rssAfter >= rssBefore ? '+' : ''}${mb(rssAfter - rssBefore)})`,
      );
    } finally {
      await load?.stop();
      await rss?.stop();
      await api?.stop();
      await redis.stop();
      await database?.drop();
    }
  },
};
