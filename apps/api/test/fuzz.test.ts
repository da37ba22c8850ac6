import { fileURLToPath } from 'node:url';
import { type ChildApp, spawnApp } from '@bulwark/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { apiClient, uniqueTenant } from './helpers/client.js';

const apiRoot = fileURLToPath(new URL('..', import.meta.url));

const routes = [
  ['POST', '/auth/register'],
  ['POST', '/auth/login'],
  ['POST', '/api/v1/notes'],
  ['GET', '/api/v1/notes'],
  ['PATCH', '/api/v1/admin/users/00000000-0000-4000-8000-000000000000'],
  ['POST', '/api/v1/admin/queues/email/replay'],
] as const;

// Bodies a hostile or broken client sends: any JSON, near-miss objects, junk text.
const jsonBody = fc.oneof(
  fc.jsonValue(),
  fc.record(
    {
      tenant: fc.oneof(fc.string(), fc.constantFrom('acme', '-x', 'A'.repeat(70))),
      email: fc.oneof(fc.emailAddress(), fc.string()),
      password: fc.string({ maxLength: 300 }),
      title: fc.string({ maxLength: 250 }),
      body: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
      role: fc.oneof(fc.constantFrom('admin', 'user', 'root'), fc.string()),
      limit: fc.oneof(fc.integer(), fc.string()),
      __proto__: fc.dictionary(fc.string(), fc.jsonValue()),
    },
    { requiredKeys: [] },
  ),
);
const rawBody = fc.oneof(
  jsonBody.map((value) => ({ text: JSON.stringify(value), type: 'application/json' })),
  fc.string().map((text) => ({ text, type: 'application/json' })),
  fc.string().map((text) => ({ text, type: 'text/plain' })),
  fc
    .string({ unit: 'binary' })
    .map((text) => ({ text, type: 'application/x-www-form-urlencoded' })),
);

describe('bad input fuzz (fast-check)', () => {
  let app: ChildApp;
  let token: string;
  beforeAll(async () => {
    app = await spawnApp({
      args: ['dist/server.js'],
      cwd: apiRoot,
      env: {
        NODE_ENV: 'production',
        LOG_LEVEL: 'fatal',
        DATABASE_URL: inject('databaseUrl'),
        JWT_SECRET: 'f'.repeat(40),
        METRICS_TOKEN: 'm'.repeat(20),
        CORS_ORIGIN: 'https://app.example.com',
      },
    });
    const api = apiClient(app.url);
    const tenant = uniqueTenant('fuzz');
    await api.register(tenant, 'admin@fuzz.test');
    token = await api.login(tenant, 'admin@fuzz.test');
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('answers every generated body with a 4xx (or 2xx) JSON error body, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        rawBody,
        fc.boolean(),
        async ([method, path], body, authenticated) => {
          const response = await fetch(app.url + path, {
            method,
            headers: {
              'content-type': body.type,
              ...(authenticated ? { authorization: `Bearer ${token}` } : {}),
            },
            body: method === 'GET' ? undefined : body.text,
          });
          const text = await response.text();
          expect(
            response.status,
            `${method} ${path} ${body.type} ${body.text.slice(0, 200)} → ${text}`,
          ).toBeLessThan(500);
          if (response.status >= 400) {
            const parsed = JSON.parse(text) as Record<string, unknown>;
            expect(Object.keys(parsed).sort()).toStrictEqual([
              'code',
              'error',
              'message',
              'statusCode',
            ]);
            expect(parsed.statusCode).toBe(response.status);
          }
        },
      ),
      { numRuns: 300 },
    );
    // The process survived all of it.
    expect(app.child.exitCode).toBeNull();
    expect((await fetch(`${app.url}/health`)).status).toBe(200);
  });
});
