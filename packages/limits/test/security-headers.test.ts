import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import limits from '../src/index.js';

const JSON_API_HEADERS = {
  'content-security-policy': "default-src 'none';frame-ancestors 'none'",
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

// helmet's defaults for HTML documents that a JSON API leaves off (see security-headers.ts).
const DOCUMENT_ONLY = [
  'origin-agent-cluster',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
];

describe('security headers', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function build(options: Parameters<typeof limits>[1] = {}) {
    app = Fastify();
    await app.register(limits, {
      shedding: false,
      global: { max: 1, windowMs: 60_000 },
      ...options,
    });
    app.get('/hello', async () => ({ hello: 'world' }));
    app.get(
      '/docs',
      {
        config: {
          limits: {
            securityHeaders: {
              contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'self'"] } },
            },
          },
        },
      },
      async () => 'docs',
    );
    app.get('/raw', { config: { limits: { securityHeaders: false } } }, async () => 'raw');
    await app.ready();
    return app;
  }

  function securityHeaders(headers: Record<string, unknown>) {
    const names = [...Object.keys(JSON_API_HEADERS), ...DOCUMENT_ONLY, 'strict-transport-security'];
    return Object.fromEntries(Object.entries(headers).filter(([name]) => names.includes(name)));
  }

  it('sends the JSON-API defaults and no HSTS outside production', async () => {
    const app = await build();
    const response = await app.inject('/hello');
    expect(securityHeaders(response.headers)).toStrictEqual(JSON_API_HEADERS);
  });

  it('turns a document-only header back on through helmet options', async () => {
    const app = await build({
      securityHeaders: { helmet: { xDnsPrefetchControl: { allow: false } } },
    });
    const response = await app.inject('/hello');
    expect(securityHeaders(response.headers)).toStrictEqual({
      ...JSON_API_HEADERS,
      'x-dns-prefetch-control': 'off',
    });
  });

  it('sends HSTS when asked (the default in production)', async () => {
    const app = await build({ securityHeaders: { hsts: true } });
    const response = await app.inject('/hello');
    expect(response.headers['strict-transport-security']).toBe(
      'max-age=31536000; includeSubDomains',
    );
  });

  it('puts the headers on 429 answers too', async () => {
    const app = await build();
    await app.inject('/hello');
    const limited = await app.inject('/hello');
    expect(limited.statusCode).toBe(429);
    expect(securityHeaders(limited.headers)).toStrictEqual(JSON_API_HEADERS);
  });

  it('lets a route override the headers (a docs page) or turn them off', async () => {
    const app = await build();
    const docs = await app.inject('/docs');
    expect(docs.headers['content-security-policy']).toBe("default-src 'self'");
    expect(docs.headers['x-content-type-options']).toBe('nosniff');
    const raw = await app.inject('/raw');
    expect(securityHeaders(raw.headers)).toStrictEqual({});
  });

  it('sends none when securityHeaders is false', async () => {
    const app = await build({ securityHeaders: false });
    expect(securityHeaders((await app.inject('/hello')).headers)).toStrictEqual({});
  });
});
