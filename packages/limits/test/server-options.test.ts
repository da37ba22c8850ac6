import { connect } from 'node:net';
import { listen } from '@bulwark/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import limits, { parseTrustProxy, serverOptions } from '../src/index.js';

describe('serverOptions() and the attack surface', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function build(env: Record<string, string> = {}) {
    app = Fastify(serverOptions(env));
    await app.register(limits, { shedding: false });
    app.post('/echo', async (request) => ({
      body: request.body,
      polluted: ({} as Record<string, unknown>).polluted ?? null,
    }));
    return app;
  }

  it('returns the documented load-safe defaults', () => {
    expect(serverOptions({})).toStrictEqual({
      bodyLimit: 1_048_576,
      requestTimeout: 30_000,
      connectionTimeout: 120_000,
      keepAliveTimeout: 72_000,
      routerOptions: { maxParamLength: 100 },
      onProtoPoisoning: 'error',
      onConstructorPoisoning: 'error',
      trustProxy: false,
      http: { headersTimeout: 10_000, connectionsCheckingInterval: 1000 },
    });
  });

  it('reads trustProxy from TRUST_PROXY: hops, a list or true', () => {
    const hops = parseTrustProxy('1') as (address: string, hop: number) => boolean;
    expect([hops('10.0.0.1', 0), hops('10.0.0.2', 1)]).toStrictEqual([true, false]);
    expect(parseTrustProxy('true')).toBe(true);
    expect(parseTrustProxy('10.0.0.0/8, 127.0.0.1')).toStrictEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(parseTrustProxy(undefined)).toBe(false);
  });

  it('rejects a bad env value, naming it', () => {
    expect(() => serverOptions({ BODY_LIMIT_BYTES: 'lots' })).toThrow(/BODY_LIMIT_BYTES/);
    expect(() => serverOptions({ HEADERS_TIMEOUT_MS: '60000' })).toThrow(/HEADERS_TIMEOUT_MS/);
  });

  it('answers an oversize body with 413 and the JSON error body', async () => {
    const app = await build();
    const response = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ data: 'x'.repeat(1_100_000) }),
    });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toStrictEqual({
      statusCode: 413,
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
      error: 'Payload Too Large',
      message: 'Request body is too large',
    });
  });

  it('answers malformed JSON with 400', async () => {
    const app = await build();
    const response = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"a":',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toStrictEqual({
      statusCode: 400,
      code: 'FST_ERR_CTP_INVALID_JSON_BODY',
      error: 'Bad Request',
      message: "Body is not valid JSON but content-type is set to 'application/json'",
    });
  });

  it('answers __proto__ and constructor.prototype payloads with 400 and pollutes nothing', async () => {
    const app = await build();
    for (const payload of [
      '{"__proto__":{"polluted":"yes"}}',
      '{"constructor":{"prototype":{"polluted":"yes"}}}',
    ]) {
      const response = await app.inject({
        method: 'POST',
        url: '/echo',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toStrictEqual({
        statusCode: 400,
        code: 'FST_ERR_CTP_INVALID_JSON_BODY',
        error: 'Bad Request',
        message: "Body is not valid JSON but content-type is set to 'application/json'",
      });
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('answers an unsupported content type with 415', async () => {
    const app = await build();
    const response = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/xml' },
      payload: '<a/>',
    });
    expect(response.statusCode).toBe(415);
    expect(response.json()).toStrictEqual({
      statusCode: 415,
      code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
      error: 'Unsupported Media Type',
      message: 'Unsupported Media Type',
    });
  });

  it('closes a connection whose headers trickle in slower than headersTimeout (slowloris)', async () => {
    const app = await build({ HEADERS_TIMEOUT_MS: '300', REQUEST_TIMEOUT_MS: '1000' });
    const url = new URL(await listen(app));
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString();
    });
    const started = Date.now();
    socket.write('GET /echo HTTP/1.1\r\nHost: localhost\r\n');
    const drip = setInterval(() => {
      if (!socket.destroyed) socket.write('X-Slow: 1\r\n');
    }, 50);
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    clearInterval(drip);
    const elapsed = Date.now() - started;
    expect(received).toMatch(/^HTTP\/1\.1 408/);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(5000);
  });
});
