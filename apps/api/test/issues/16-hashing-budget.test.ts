import type { ChildApp } from '@bulwark/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnApi } from '../helpers/api-process.js';
import { uniqueTenant } from '../helpers/client.js';

// Issue 16: password hashing has a budget of its own; past it, 503 + Retry-After at once.
describe('issue 16: the hashing budget', () => {
  let app: ChildApp;
  beforeAll(async () => {
    app = await spawnApi({
      // A budget of one hash at a time and four waiting.
      UV_THREADPOOL_SIZE: '1',
    });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('answers 503 + Retry-After beyond the budget, serves the rest, and /hello all along', async () => {
    const register = (index: number) =>
      fetch(`${app.url}/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          tenant: uniqueTenant(`budget${index}`),
          email: `u${index}@budget.test`,
          password: 'correct horse battery staple',
        }),
      });
    const [responses, hello] = await Promise.all([
      Promise.all(Array.from({ length: 20 }, (_, index) => register(index))),
      fetch(`${app.url}/hello`),
    ]);
    const statuses = responses.map((response) => response.status);
    expect(
      statuses.every((status) => status === 201 || status === 503),
      String(statuses),
    ).toBe(true);
    expect(statuses.filter((status) => status === 201).length).toBeGreaterThanOrEqual(2);
    const rejected = responses.filter((response) => response.status === 503);
    expect(rejected.length).toBeGreaterThan(0);
    for (const response of rejected) {
      expect(response.headers.get('retry-after')).toBe('1');
      expect(await response.json()).toMatchObject({
        statusCode: 503,
        code: 'BULWARK_RESILIENCE_BULKHEAD_FULL',
      });
    }
    expect(hello.status).toBe(200);
  });
});
