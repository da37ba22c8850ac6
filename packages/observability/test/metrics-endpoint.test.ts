import { freePort, listen } from '@bulwark/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import observability from '../src/index.js';
import { send } from './helpers/http.js';

const quiet = { memory: { enabled: false } } as const;
const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const PROMETHEUS = 'text/plain; version=0.0.4; charset=utf-8';

describe('GET /metrics', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('answers Prometheus text by default and OpenMetrics when the scraper asks for it', async () => {
    app = Fastify();
    await app.register(observability, quiet);
    app.get('/hello', async () => ({ hello: 'world' }));
    const url = await listen(app);
    await fetch(`${url}/hello`);

    const prometheus = await send(`${url}/metrics`);
    expect(prometheus.status).toBe(200);
    expect(prometheus.headers['content-type']).toBe(PROMETHEUS);
    expect(prometheus.body).toContain('# TYPE http_requests_total counter');
    expect(prometheus.body).toContain(
      'http_requests_total{method="GET",route="/hello",status_code="200"} 1',
    );
    expect(prometheus.body).not.toContain('# EOF');
    const histogram = prometheus.body
      .split('\n')
      .filter(
        (line) =>
          line.startsWith('http_request_duration_seconds') && line.includes('route="/hello"'),
      );
    expect(histogram.map((line) => line.replace(/ [0-9.e-]+$/, ' N'))).toStrictEqual([
      ...[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, '+Inf'].map(
        (le) =>
          `http_request_duration_seconds_bucket{le="${le}",method="GET",route="/hello",status_code="200"} N`,
      ),
      'http_request_duration_seconds_sum{method="GET",route="/hello",status_code="200"} N',
      'http_request_duration_seconds_count{method="GET",route="/hello",status_code="200"} N',
    ]);
    expect(histogram.at(-1)?.endsWith(' 1')).toBe(true);
    expect(histogram.at(-3)?.endsWith(' 1')).toBe(true);

    const open = await send(`${url}/metrics`, {
      headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;q=0.5' },
    });
    expect(open.status).toBe(200);
    expect(open.headers['content-type']).toBe(OPENMETRICS);
    expect(open.body).toContain('# TYPE http_requests counter');
    expect(open.body).toContain(
      'http_requests_total{method="GET",route="/hello",status_code="200"} 1',
    );
    expect(open.body.endsWith('# EOF\n')).toBe(true);

    // The OpenMetrics rendering must not rename the counter for later Prometheus scrapes.
    const again = await send(`${url}/metrics`);
    expect(again.body).toContain('# TYPE http_requests_total counter');
  });

  it('serves the endpoint on a configured path', async () => {
    app = Fastify();
    await app.register(observability, { ...quiet, metrics: { path: '/internal/prom' } });
    const url = await listen(app);
    expect((await send(`${url}/internal/prom`)).status).toBe(200);
    expect((await send(`${url}/metrics`)).status).toBe(404);
  });

  it('answers 401 with WWW-Authenticate without the bearer token and 200 with it', async () => {
    app = Fastify();
    await app.register(observability, { ...quiet, metrics: { token: 's3cret-token' } });
    const url = await listen(app);

    const missing = await send(`${url}/metrics`);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect(JSON.parse(missing.body)).toStrictEqual({
      statusCode: 401,
      code: 'BULWARK_OBSERVABILITY_UNAUTHORIZED',
      error: 'Unauthorized',
      message: 'reading metrics requires a bearer token; send Authorization: Bearer <token>',
    });
    const wrong = await send(`${url}/metrics`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const right = await send(`${url}/metrics`, {
      headers: { authorization: 'Bearer s3cret-token' },
    });
    expect(right.status).toBe(200);
    expect(right.body).toContain('# TYPE http_requests_total counter');
  });

  it('serves metrics on a separate port instead of the main one, with the same token rule', async () => {
    const port = await freePort();
    app = Fastify();
    await app.register(observability, {
      ...quiet,
      metrics: { port, host: '127.0.0.1', token: 'tok' },
    });
    app.get('/hello', async () => ({ hello: 'world' }));
    const url = await listen(app);
    await fetch(`${url}/hello`);

    expect((await send(`${url}/metrics`)).status).toBe(404);
    const metricsUrl = `http://127.0.0.1:${port}/metrics`;
    const denied = await send(metricsUrl);
    expect(denied.status).toBe(401);
    expect(denied.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect(JSON.parse(denied.body)).toMatchObject({
      statusCode: 401,
      code: 'BULWARK_OBSERVABILITY_UNAUTHORIZED',
    });
    const ok = await send(metricsUrl, { headers: { authorization: 'Bearer tok' } });
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe(PROMETHEUS);
    expect(ok.body).toContain(
      'http_requests_total{method="GET",route="/hello",status_code="200"} 1',
    );
    const open = await send(`${metricsUrl}?x=1`, {
      headers: { authorization: 'Bearer tok', accept: 'application/openmetrics-text' },
    });
    expect(open.headers['content-type']).toBe(OPENMETRICS);
    expect(
      (await send(`http://127.0.0.1:${port}/other`, { headers: { authorization: 'Bearer tok' } }))
        .status,
    ).toBe(404);

    await app.close();
    app = undefined;
    await expect(send(metricsUrl)).rejects.toThrow();
  });

  it('fails ready when the separate port is taken', async () => {
    const blocker = Fastify();
    const blockerUrl = await listen(blocker);
    const port = Number(new URL(blockerUrl).port);
    app = Fastify();
    await app.register(observability, { ...quiet, metrics: { port, host: '127.0.0.1' } });
    await expect(app.ready()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await blocker.close();
  });
});
