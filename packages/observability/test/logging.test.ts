import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen, waitFor } from '@bulwark/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import observability, { loggerOptions, serverOptions } from '../src/index.js';
import { send } from './helpers/http.js';
import { LogSink } from './helpers/log-sink.js';

const quiet = { memory: { enabled: false } } as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function appWithSink(
  sink: LogSink,
  setup: Parameters<typeof loggerOptions>[0] = {},
): FastifyInstance {
  return Fastify({ ...serverOptions(), logger: { ...loggerOptions(setup), stream: sink } });
}

describe('request logs', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
    vi.unstubAllEnvs();
  });

  it('never lets a credential reach the output, at any depth of a logged body, headers or error', async () => {
    const sink = new LogSink();
    app = appWithSink(sink, { redactKeys: ['ssn'] });
    await app.register(observability, quiet);
    app.post('/signup', async (request) => {
      request.log.info({ body: request.body, headers: request.headers }, 'signup body');
      const error = new Error('upstream refused') as Error & { details: unknown };
      error.details = {
        attempt: {
          user: { name: 'ada', password: 'pw-in-error', tokens: [{ refresh_token: 'rt-1' }] },
        },
      };
      error.cause = { request: { headers: { Authorization: 'Bearer cause-secret' } } };
      throw error;
    });
    const url = await listen(app);
    const response = await fetch(`${url}/signup`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer header-secret',
        cookie: 'sid=cookie-secret',
      },
      body: JSON.stringify({
        user: {
          name: 'ada',
          profile: { security: { password: 'pw-deep', apiKey: 'key-deep', ssn: '123-45' } },
        },
        items: [{ clientSecret: 'cs-in-array' }],
      }),
    });
    expect(response.status).toBe(500);

    for (const secret of [
      'pw-deep',
      'key-deep',
      '123-45',
      'cs-in-array',
      'header-secret',
      'cookie-secret',
      'pw-in-error',
      'rt-1',
      'cause-secret',
    ]) {
      expect(sink.raw).not.toContain(secret);
    }
    const [logged] = sink.withMessage('signup body');
    expect(logged?.body).toStrictEqual({
      user: {
        name: 'ada',
        profile: { security: { password: '[Redacted]', apiKey: '[Redacted]', ssn: '[Redacted]' } },
      },
      items: [{ clientSecret: '[Redacted]' }],
    });
    expect((logged?.headers as Record<string, string>).authorization).toBe('[Redacted]');
    expect((logged?.headers as Record<string, string>).cookie).toBe('[Redacted]');
    const [errored] = sink.withMessage('request errored');
    expect(errored).toMatchObject({
      level: 50,
      statusCode: 500,
      route: '/signup',
      err: {
        message: 'upstream refused',
        details: { attempt: { user: { name: 'ada', password: '[Redacted]' } } },
      },
    });
  });

  it('writes one completion line per request with method, route template, status, duration and ids', async () => {
    const sink = new LogSink();
    app = appWithSink(sink);
    await app.register(observability, quiet);
    app.addHook('preHandler', async (request) => {
      request.userId = 'u-42';
      request.tenantId = 't-7';
    });
    app.get('/items/:id', async () => ({ ok: true }));
    const url = await listen(app);
    await fetch(`${url}/items/3?secret=shh`);
    await fetch(`${url}/nowhere/at/all?token=abc`);
    await app.close();
    app = undefined;

    const completed = sink.lines.filter((line) => typeof line.responseTime === 'number');
    expect(completed).toHaveLength(2);
    expect(completed[0]).toMatchObject({
      level: 30,
      msg: 'request completed',
      method: 'GET',
      route: '/items/:id',
      statusCode: 200,
      userId: 'u-42',
      tenantId: 't-7',
    });
    expect(completed[0]?.reqId).toMatch(UUID);
    expect(completed[1]).toMatchObject({
      route: 'unmatched',
      statusCode: 404,
      path: '/nowhere/at/all',
    });
    // serverOptions() turned Fastify's own per-request lines off: no second line per request.
    expect(sink.withMessage('incoming request')).toHaveLength(0);
    expect(sink.lines.filter((line) => String(line.msg).includes('not found'))).toHaveLength(0);
    expect(sink.raw).not.toContain('shh');
  });

  it('logs requests over the threshold at warn as slow', async () => {
    const sink = new LogSink();
    app = appWithSink(sink);
    await app.register(observability, { ...quiet, requestLog: { slowMs: 150 } });
    app.get('/slow', async () => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      return { ok: true };
    });
    app.get('/fast', async () => ({ ok: true }));
    const url = await listen(app);
    await fetch(`${url}/slow`);
    await fetch(`${url}/fast`);
    const [slow] = sink.withMessage('slow request');
    expect(slow).toMatchObject({ level: 40, route: '/slow', statusCode: 200 });
    expect(slow?.responseTime as number).toBeGreaterThanOrEqual(150);
    expect(sink.withMessage('request completed').map((line) => line.route)).toStrictEqual([
      '/fast',
    ]);
  });

  it('does not log probe routes unless requestLog.probes', async () => {
    const sink = new LogSink();
    app = appWithSink(sink);
    await app.register(observability, quiet);
    app.get('/live', { config: { bulwarkProbe: true } }, async () => 'ok');
    const url = await listen(app);
    await fetch(`${url}/live`);
    await fetch(`${url}/metrics`);
    expect(sink.lines.filter((line) => line.responseTime !== undefined)).toHaveLength(0);
  });

  it('honours LOG_LEVEL', async () => {
    vi.stubEnv('LOG_LEVEL', 'warn');
    expect(loggerOptions().level).toBe('warn');
    expect(loggerOptions({ level: 'debug' }).level).toBe('debug');
    vi.stubEnv('LOG_LEVEL', 'loud');
    expect(() => loggerOptions()).toThrow(
      expect.objectContaining({ code: 'BULWARK_OBSERVABILITY_INVALID_OPTION' }),
    );
  });

  it('writes pino-pretty lines when pretty, and JSON lines to a file otherwise', async () => {
    const prettyFile = join(tmpdir(), `bulwark-pretty-${process.pid}.log`);
    const jsonFile = join(tmpdir(), `bulwark-json-${process.pid}.log`);
    try {
      for (const [file, pretty] of [
        [prettyFile, true],
        [jsonFile, false],
      ] as const) {
        const logged = Fastify({ logger: loggerOptions({ pretty, file }) });
        await logged.register(observability, quiet);
        logged.log.info({ password: 'pretty-secret' }, 'hello there');
        await logged.close();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const prettyText = await waitFor(
        async () => {
          const text = await readFile(prettyFile, 'utf8');
          return text.includes('hello there') ? text : undefined;
        },
        { timeoutMs: 3000, what: 'pretty log line' },
      );
      expect(prettyText).not.toMatch(/^\{/);
      expect(prettyText).not.toContain('pretty-secret');
      const jsonText = await waitFor(
        async () => {
          const text = await readFile(jsonFile, 'utf8');
          return text.includes('hello there') ? text : undefined;
        },
        { timeoutMs: 3000, what: 'json log line' },
      );
      expect(JSON.parse(jsonText.trim())).toMatchObject({
        msg: 'hello there',
        password: '[Redacted]',
      });
    } finally {
      await rm(prettyFile, { force: true });
      await rm(jsonFile, { force: true });
    }
  });
});

describe('request ids', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function start(sink: LogSink, options = {}) {
    app = appWithSink(sink);
    await app.register(observability, { ...quiet, ...options });
    app.get('/echo', async (request) => {
      request.log.info('inside handler');
      return { id: request.id };
    });
    return listen(app);
  }

  it('honours a short, safe incoming x-request-id, echoes it and logs it as reqId', async () => {
    const sink = new LogSink();
    const url = await start(sink);
    const response = await send(`${url}/echo`, {
      headers: { 'x-request-id': 'edge-1234.abc:5_6' },
    });
    expect(response.headers['x-request-id']).toBe('edge-1234.abc:5_6');
    expect(JSON.parse(response.body)).toStrictEqual({ id: 'edge-1234.abc:5_6' });
    expect(sink.withMessage('inside handler')[0]?.reqId).toBe('edge-1234.abc:5_6');
    expect(sink.withMessage('request completed')[0]?.reqId).toBe('edge-1234.abc:5_6');
  });

  it.each([
    ['too long', 'a'.repeat(129)],
    ['unsafe characters', 'id with spaces"}{'],
    ['a forged log field', 'x","level":60,"msg":"pwned'],
    ['empty', ''],
  ])('replaces an incoming id that is %s with a generated one, and echoes that', async (_what, incoming) => {
    const sink = new LogSink();
    const url = await start(sink);
    const response = await send(`${url}/echo`, { headers: { 'x-request-id': incoming } });
    const echoed = response.headers['x-request-id'];
    expect(echoed).toMatch(UUID);
    expect(JSON.parse(response.body)).toStrictEqual({ id: echoed });
    expect(sink.withMessage('inside handler')[0]?.reqId).toBe(echoed);
  });

  it('generates a fresh id per request when none is sent, and echoes it on 404s too', async () => {
    const sink = new LogSink();
    const url = await start(sink);
    const a = await send(`${url}/echo`);
    const b = await send(`${url}/missing`);
    expect(a.headers['x-request-id']).toMatch(UUID);
    expect(b.headers['x-request-id']).toMatch(UUID);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });

  it('uses a configured header name and length bound', async () => {
    const sink = new LogSink();
    const url = await start(sink, { requestId: { header: 'x-correlation-id', maxLength: 8 } });
    expect(
      (await send(`${url}/echo`, { headers: { 'x-correlation-id': 'abc123' } })).headers[
        'x-correlation-id'
      ],
    ).toBe('abc123');
    expect(
      (await send(`${url}/echo`, { headers: { 'x-correlation-id': 'abcdefghi' } })).headers[
        'x-correlation-id'
      ],
    ).toMatch(UUID);
  });
});

describe('memory watch', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('warns with the growth trend when heap use passes the threshold, on an unref’d timer', async () => {
    const sink = new LogSink();
    app = appWithSink(sink);
    await app.register(observability, { memory: { threshold: 0.000001, intervalMs: 20 } });
    await app.ready();
    await waitFor(() => sink.withMessage('heap use above threshold').length >= 3, {
      timeoutMs: 3000,
      what: 'three heap warnings',
    });
    const warning = sink.withMessage('heap use above threshold')[2];
    expect(warning).toMatchObject({ level: 40, threshold: 0.000001 });
    expect(warning?.heapUsedBytes as number).toBeGreaterThan(0);
    expect(warning?.heapLimitBytes as number).toBeGreaterThan(warning?.heapUsedBytes as number);
    expect(typeof warning?.trendBytesPerMinute).toBe('number');
    await app.close();
    const count = sink.withMessage('heap use above threshold').length;
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(sink.withMessage('heap use above threshold').length).toBe(count);
  });
});
