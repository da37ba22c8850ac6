import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import health from '@bulwark/health';
import observability from '@bulwark/observability';
import Fastify, {
  type FastifyInstance,
  type InjectOptions,
  type LightMyRequestResponse,
} from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import limits from '../../src/index.js';

/** The JSON-API security headers the README promises on every response. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none';frame-ancestors 'none'",
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

function expectSecurityHeaders(response: LightMyRequestResponse, what: string): void {
  const got = Object.fromEntries(
    Object.keys(SECURITY_HEADERS).map((name) => [name, response.headers[name]]),
  );
  expect(got, what).toStrictEqual(SECURITY_HEADERS);
}

interface Built {
  app: FastifyInstance;
  /** Releases every request held by GET /api/hold. */
  release: () => void;
}

const GLOBAL_MAX = 5;

/**
 * The README's order: observability → health → limits → a scoped auth hook → routes. The auth
 * hook answers 401 to any request without `authorization: Bearer ok`.
 */
async function build(
  shedding: { initialLimit: number; maxLimit: number } | false,
  globalMax = GLOBAL_MAX,
): Promise<Built> {
  const app = Fastify({ bodyLimit: 64 });
  await app.register(observability, {
    memory: { enabled: false },
    requestLog: { enabled: false },
    metrics: { defaultMetrics: false },
  });
  await app.register(health, { production: false });
  await app.register(limits, {
    global: { max: globalMax, windowMs: 60_000 },
    shedding: shedding === false ? false : { ...shedding, minLimit: 1, maxEventLoopDelayMs: 0 },
  });
  let waiting: Array<() => void> = [];
  await app.register(
    async (api) => {
      api.addHook('onRequest', async (request, reply) => {
        if (request.headers.authorization !== 'Bearer ok') {
          return reply.code(401).send({ statusCode: 401, error: 'Unauthorized', message: 'no' });
        }
      });
      api.get('/ok', async () => ({ ok: true }));
      api.get('/boom', async () => {
        throw new Error('boom');
      });
      api.post('/echo', async (request) => request.body);
      api.get('/hold', () => new Promise((resolve) => waiting.push(() => resolve({ held: true }))));
    },
    { prefix: '/api' },
  );
  await app.ready();
  return {
    app,
    release() {
      const now = waiting;
      waiting = [];
      for (const resolve of now) resolve();
    },
  };
}

const auth = { authorization: 'Bearer ok' };

describe('issue 14: the guard runs first, for every request', () => {
  let built: Built | undefined;
  afterEach(async () => {
    built?.release();
    await built?.app.close();
    built = undefined;
  });

  it('puts the security headers on 200, 401, 404, 413, 415, 429, 503, 500, every probe and /metrics', async () => {
    built = await build({ initialLimit: 2, maxLimit: 2 });
    const { app } = built;
    const seen = new Map<number, number>();
    const check = async (options: InjectOptions, status: number) => {
      // The shedder counts requests finished in the same event-loop turn as still occupying a
      // slot (synchronous handlers); let each turn end so only the held requests count.
      await new Promise((resolve) => setImmediate(resolve));
      const response = await app.inject(options);
      expect(response.statusCode, `${JSON.stringify(options)}`).toBe(status);
      expectSecurityHeaders(response, `${status} ${JSON.stringify(options)}`);
      seen.set(status, (seen.get(status) ?? 0) + 1);
      return response;
    };
    let ip = 0;
    const from = () => `10.0.0.${++ip}`;

    await check({ url: '/api/ok', headers: auth, remoteAddress: from() }, 200);
    await check({ url: '/api/ok', remoteAddress: from() }, 401);
    await check({ url: '/nowhere', remoteAddress: from() }, 404);
    await check(
      {
        method: 'POST',
        url: '/api/echo',
        headers: auth,
        payload: { big: 'x'.repeat(200) },
        remoteAddress: from(),
      },
      413,
    );
    await check(
      {
        method: 'POST',
        url: '/api/echo',
        headers: { ...auth, 'content-type': 'text/xml' },
        payload: '<a/>',
        remoteAddress: from(),
      },
      415,
    );
    const boom = await check({ url: '/api/boom', headers: auth, remoteAddress: from() }, 500);
    expect(boom.json()).toMatchObject({ statusCode: 500 });
    const spent = from();
    for (let i = 0; i < GLOBAL_MAX; i += 1) {
      await check({ url: '/api/ok', headers: auth, remoteAddress: spent }, 200);
    }
    const limited = await check({ url: '/api/ok', headers: auth, remoteAddress: spent }, 429);
    expect(limited.json()).toMatchObject({ code: 'BULWARK_LIMITS_RATE_LIMITED' });

    // Probes and /metrics: never limited (the spent IP still gets them), always headers.
    for (const url of [
      '/health',
      '/health/live',
      '/health/ready',
      '/health/startup',
      '/health/detailed',
      '/metrics',
    ]) {
      for (let i = 0; i < GLOBAL_MAX + 2; i += 1) {
        await check({ url, remoteAddress: spent }, 200);
      }
    }

    // Overload: two requests held at a concurrency limit of 2, then everything else is shed.
    const held = [
      app.inject({ url: '/api/hold', headers: auth, remoteAddress: from() }),
      app.inject({ url: '/api/hold', headers: auth, remoteAddress: from() }),
    ];
    await waitUntil(() => app.limits.inFlight === 2);
    const shed = await check({ url: '/api/ok', headers: auth, remoteAddress: from() }, 503);
    expect(shed.json()).toMatchObject({ code: 'BULWARK_LIMITS_OVERLOADED' });
    await check({ url: '/api/ok', remoteAddress: from() }, 503); // would be a 401
    await check({ url: '/nowhere', remoteAddress: from() }, 503); // would be a 404
    // Probes and metrics stay unshed.
    await check({ url: '/health/ready', remoteAddress: from() }, 200);
    await check({ url: '/metrics', remoteAddress: from() }, 200);
    built.release();
    for (const response of await Promise.all(held)) {
      expect(response.statusCode).toBe(200);
      expectSecurityHeaders(response, 'held 200');
    }
    expect([...seen.keys()].sort()).toStrictEqual([200, 401, 404, 413, 415, 429, 500, 503]);
  });

  it('counts unauthenticated 401s in the per-IP tier: the N+1-th answers 429', async () => {
    built = await build(false);
    for (let i = 0; i < GLOBAL_MAX; i += 1) {
      const response = await built.app.inject({ url: '/api/ok', remoteAddress: '10.1.0.1' });
      expect(response.statusCode).toBe(401);
      expect(response.headers.ratelimit).toBe(
        `"global";r=${GLOBAL_MAX - 1 - i};t=${Math.ceil(((i + 1) * 60) / GLOBAL_MAX)}`,
      );
    }
    const over = await built.app.inject({ url: '/api/ok', remoteAddress: '10.1.0.1' });
    expect(over.statusCode).toBe(429);
    expect(over.json()).toMatchObject({ code: 'BULWARK_LIMITS_RATE_LIMITED' });
    // Another IP is untouched.
    const other = await built.app.inject({ url: '/api/ok', remoteAddress: '10.1.0.2' });
    expect(other.statusCode).toBe(401);
  });

  it('counts 404s in the per-IP tier: the N+1-th answers 429', async () => {
    built = await build(false);
    for (let i = 0; i < GLOBAL_MAX; i += 1) {
      const response = await built.app.inject({ url: `/no/${i}`, remoteAddress: '10.2.0.1' });
      expect(response.statusCode).toBe(404);
    }
    const over = await built.app.inject({ url: '/no/more', remoteAddress: '10.2.0.1' });
    expect(over.statusCode).toBe(429);
  });

  it('leaves http_requests_in_flight at exactly 0 after 2xx, 401, 404, 429, 503 and aborted requests on a listening server', async () => {
    built = await build({ initialLimit: 3, maxLimit: 3 }, 20);
    const { app } = built;
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    const base = `http://127.0.0.1:${port}`;
    const inFlight = async () => {
      const metric = app.metrics.registry.getSingleMetric('http_requests_in_flight');
      return (await metric!.get()).values[0]?.value;
    };
    const statuses: number[] = [];
    const get = async (path: string, headers: Record<string, string> = {}) => {
      const response = await fetch(base + path, { headers });
      await response.arrayBuffer();
      statuses.push(response.status);
    };
    await get('/api/ok', auth);
    await get('/api/ok');
    await get('/nowhere');
    expect(await inFlight()).toBe(0);
    // Three requests held at a concurrency limit of 3; one of them the client abandons.
    const aborted = httpRequest(`${base}/api/hold`, { headers: auth });
    aborted.on('error', () => undefined);
    aborted.end();
    const held = [
      fetch(`${base}/api/hold`, { headers: auth }),
      fetch(`${base}/api/hold`, { headers: auth }),
    ];
    await waitUntil(async () => (await inFlight()) === 3 && app.limits.inFlight === 3);
    await get('/api/ok', auth);
    await get('/api/ok');
    await get('/nowhere');
    expect(statuses.slice(-3)).toStrictEqual([503, 503, 503]);
    expect(await inFlight()).toBe(3);
    aborted.destroy();
    await waitUntil(async () => (await inFlight()) === 2);
    built.release();
    await Promise.all(held.map(async (pending) => (await pending).arrayBuffer()));
    // Then spend the per-IP budget: 401s and 429s.
    while (statuses.at(-1) !== 429) await get('/api/ok');
    await waitUntil(async () => (await inFlight()) === 0);
    // Settled: nothing moves it further (no late decrement from a double count).
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await inFlight()).toBe(0);
    expect(app.limits.inFlight).toBe(0);
    expect(new Set(statuses)).toStrictEqual(new Set([200, 401, 404, 429, 503]));
  });
});

async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
