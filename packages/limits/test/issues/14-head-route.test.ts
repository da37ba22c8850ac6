import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import limits from '../../src/index.js';

describe('issue 14: GET and its automatic HEAD route share hook arrays', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('charges every tier exactly once per request, and the shedder releases every slot', async () => {
    app = Fastify();
    await app.register(limits, {
      global: { max: 100, windowMs: 60_000 },
      user: { max: 10, windowMs: 60_000, key: (request) => request.headers['x-user'] as string },
    });
    const calls = { onRequest: 0, preHandler: 0 };
    // Arrays, as a route declares several hooks: Fastify's HEAD route is a shallow copy of these
    // options, so both routes hold the same array objects.
    app.get(
      '/thing',
      {
        onRequest: [
          async () => {
            calls.onRequest += 1;
          },
        ],
        preHandler: [
          async () => {
            calls.preHandler += 1;
          },
        ],
      },
      async () => ({ ok: true }),
    );
    await app.ready();
    const user = { 'x-user': 'u1' };
    const expected: Array<[string, number, number]> = [
      ['GET', 99, 9],
      ['HEAD', 98, 8],
      ['GET', 97, 7],
      ['HEAD', 96, 6],
    ];
    for (const [method, global, own] of expected) {
      const response = await app.inject({
        method: method as 'GET' | 'HEAD',
        url: '/thing',
        headers: user,
      });
      expect(response.statusCode).toBe(200);
      expect(response.headers['ratelimit-policy']).toBe('"global";q=100;w=60, "user";q=10;w=60');
      expect(response.headers.ratelimit).toMatch(
        new RegExp(`^"global";r=${global};t=\\d+, "user";r=${own};t=\\d+$`),
      );
    }
    expect(calls).toStrictEqual({ onRequest: 4, preHandler: 4 });
    expect(app.limits.inFlight).toBe(0);
  });
});
