import http from 'node:http';
import { listen, waitFor } from '@bulwark/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import observability, { OTHER_METHOD, UNMATCHED_ROUTE } from '../src/index.js';
import { send } from './helpers/http.js';

const quiet = { memory: { enabled: false } } as const;

async function seriesOf(app: FastifyInstance, name: string) {
  const metric = app.metrics.registry.getSingleMetric(name);
  const data = await metric?.get();
  return data?.values ?? [];
}

describe('fastify.metrics', () => {
  let apps: FastifyInstance[] = [];
  afterEach(async () => {
    await Promise.all(apps.map((app) => app.close()));
    apps = [];
  });

  async function build(options: Parameters<typeof observability>[1] = quiet) {
    const app = Fastify();
    apps.push(app);
    await app.register(observability, options);
    return app;
  }

  it('gives each app instance its own registry, so two apps in one process do not collide', async () => {
    const a = await build();
    const b = await build();
    await Promise.all([a.ready(), b.ready()]);
    expect(a.metrics.registry).not.toBe(b.metrics.registry);
    a.metrics.counter({ name: 'jobs_total', help: 'jobs' }).inc();
    expect(b.metrics.registry.getSingleMetric('jobs_total')).toBeUndefined();
    expect(await a.metrics.registry.getSingleMetricAsString('jobs_total')).toContain(
      'jobs_total 1',
    );
  });

  it('returns the existing metric when asked again for a name, and rejects another type', async () => {
    const app = await build();
    const counter = app.metrics.counter({ name: 'widgets_total', help: 'w', labelNames: ['kind'] });
    expect(app.metrics.counter({ name: 'widgets_total', help: 'other help' })).toBe(counter);
    const gauge = app.metrics.gauge({ name: 'queue_depth', help: 'd' });
    expect(app.metrics.gauge({ name: 'queue_depth', help: 'd' })).toBe(gauge);
    const histogram = app.metrics.histogram({ name: 'job_seconds', help: 's', buckets: [1, 2] });
    expect(app.metrics.histogram({ name: 'job_seconds', help: 's' })).toBe(histogram);
    counter.inc({ kind: 'a' }, 2);
    gauge.set(3);
    histogram.observe(1.5);
    const end = histogram.startTimer();
    end();
    expect(() => app.metrics.gauge({ name: 'widgets_total', help: 'w' })).toThrow(
      expect.objectContaining({ code: 'BULWARK_OBSERVABILITY_METRIC_CONFLICT' }),
    );
    const text = await app.metrics.registry.metrics();
    expect(text).toContain('widgets_total{kind="a"} 2');
    expect(text).toContain('queue_depth 3');
    expect(text).toContain('job_seconds_count 2');
  });

  it('refuses to hand out the HTTP metrics it owns, and resets them with the registry', async () => {
    const app = await build();
    app.get('/x', async () => 'ok');
    await app.inject('/x');
    expect(() =>
      app.metrics.histogram({ name: 'http_request_duration_seconds', help: 'h' }),
    ).toThrow(expect.objectContaining({ code: 'BULWARK_OBSERVABILITY_METRIC_CONFLICT' }));
    expect(await app.metrics.registry.getSingleMetricAsString('http_requests_total')).toContain(
      'http_requests_total{method="GET",route="/x",status_code="200"} 1',
    );
    app.metrics.registry.resetMetrics();
    expect(await app.metrics.registry.getSingleMetricAsString('http_requests_total')).toContain(
      'http_requests_total{method="GET",route="/x",status_code="200"} 0',
    );
    const json = await app.metrics.registry.getMetricsAsJSON();
    expect(json.find((metric) => metric.name === 'http_request_duration_seconds')).toMatchObject({
      type: 'histogram',
      values: [],
    });
  });

  it('collects Node default metrics and event loop utilization', async () => {
    const app = await build();
    await app.ready();
    const text = await app.metrics.registry.metrics();
    for (const name of [
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
      'nodejs_gc_duration_seconds',
      'nodejs_active_handles_total',
      'nodejs_eventloop_utilization_ratio',
    ]) {
      expect(text).toContain(`# TYPE ${name}`);
    }
  });

  it('prefixes every family with metrics.prefix: defaults, HTTP metrics and plugin metrics', async () => {
    const app = await build({ ...quiet, metrics: { prefix: 'shop_' } });
    app.get('/x', async () => 'ok');
    app.metrics.counter({ name: 'plugin_things_total', help: 'things' });
    await app.ready();
    await app.inject('/x');
    const names = (await app.metrics.registry.getMetricsAsJSON()).map((metric) => metric.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'shop_http_requests_total',
        'shop_http_request_duration_seconds',
        'shop_http_requests_in_flight',
        'shop_nodejs_eventloop_utilization_ratio',
        'shop_process_cpu_seconds_total',
        'shop_plugin_things_total',
      ]),
    );
    expect(names.filter((name) => !name.startsWith('shop_'))).toStrictEqual([]);
    const text = (await app.inject('/metrics')).body;
    expect(text).toContain('shop_http_request_duration_seconds_bucket{le="0.005"');
    expect(app.metrics.counter({ name: 'plugin_things_total', help: 'things' })).toBe(
      app.metrics.registry.getSingleMetric('shop_plugin_things_total'),
    );
  });

  it('refuses a metrics.prefix that is not a valid metric name start', async () => {
    await expect(build({ ...quiet, metrics: { prefix: 'my-app_' } })).rejects.toMatchObject({
      code: 'BULWARK_OBSERVABILITY_INVALID_OPTION',
      message: expect.stringContaining('metrics.prefix'),
    });
  });

  it('does not decorate or serve metrics when metrics.enabled is false', async () => {
    const app = await build({ ...quiet, metrics: { enabled: false } });
    await app.ready();
    expect(app.hasDecorator('metrics')).toBe(false);
    expect((await app.inject('/metrics')).statusCode).toBe(404);
  });
});

describe('HTTP RED metrics', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('labels requests with the route template, never the raw URL, against a real server', async () => {
    app = Fastify();
    await app.register(observability, quiet);
    app.get('/users/:id', async (req) => ({ id: (req.params as { id: string }).id }));
    app.register(
      async (child) => {
        child.post('/orders/:orderId/items', async (_req, reply) =>
          reply.code(201).send({ ok: true }),
        );
      },
      { prefix: '/v1' },
    );
    const url = await listen(app);
    for (const id of ['1', '2', '3']) await fetch(`${url}/users/${id}`);
    await fetch(`${url}/v1/orders/9/items`, { method: 'POST' });
    const totals = await seriesOf(app, 'http_requests_total');
    expect(totals).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          labels: { method: 'GET', route: '/users/:id', status_code: '200' },
          value: 3,
        }),
        expect.objectContaining({
          labels: { method: 'POST', route: '/v1/orders/:orderId/items', status_code: '201' },
          value: 1,
        }),
      ]),
    );
    const durations = await seriesOf(app, 'http_request_duration_seconds');
    const count = durations.find(
      (v) =>
        (v as { metricName?: string }).metricName === 'http_request_duration_seconds_count' &&
        v.labels.route === '/users/:id',
    );
    expect(count?.value).toBe(3);
    expect(JSON.stringify(totals)).not.toContain('/users/1');
  });

  it('counts requests in flight while they run', async () => {
    app = Fastify();
    await app.register(observability, quiet);
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    app.get('/slow', async () => {
      await held;
      return { ok: true };
    });
    const url = await listen(app);
    const pending = fetch(`${url}/slow`);
    const current = app;
    await waitFor(
      async () => (await seriesOf(current, 'http_requests_in_flight'))[0]?.value === 1,
      {
        timeoutMs: 5000,
        what: 'one request in flight',
      },
    );
    release();
    await pending;
    expect((await seriesOf(app, 'http_requests_in_flight'))[0]?.value).toBe(0);
  });

  it('releases the in-flight count of a request the client abandons, counting it as 499', async () => {
    const sink: string[] = [];
    app = Fastify({
      logger: { level: 'info', stream: { write: (line: string) => sink.push(line) } },
    });
    await app.register(observability, quiet);
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    app.get('/slow', async () => {
      await held;
      return { ok: true };
    });
    const url = await listen(app);
    const abandoned = http.get(`${url}/slow`);
    abandoned.on('error', () => undefined);
    const current = app;
    await waitFor(
      async () => (await seriesOf(current, 'http_requests_in_flight'))[0]?.value === 1,
      {
        timeoutMs: 5000,
        what: 'the request in flight',
      },
    );
    abandoned.destroy();
    await waitFor(async () => (await seriesOf(current, 'http_requests_total')).length === 1, {
      timeoutMs: 5000,
      what: 'the abandoned request counted',
    });
    // The handler finishes after the abort: its late reply must not be counted a second time.
    release();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await seriesOf(app, 'http_requests_in_flight'))[0]?.value).toBe(0);
    expect(await seriesOf(app, 'http_requests_total')).toStrictEqual([
      { labels: { method: 'GET', route: '/slow', status_code: '499' }, value: 1 },
    ]);
    const lines = sink.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.filter((line) => line.msg === 'request aborted')).toMatchObject([
      { route: '/slow', statusCode: 499 },
    ]);
    expect(lines.filter((line) => line.msg === 'request completed')).toHaveLength(0);
  });

  it('gives every unmatched URL one route label and every non-standard method one method label', async () => {
    app = Fastify();
    await app.register(observability, quiet);
    app.get('/known', async () => 'ok');
    const url = await listen(app);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const methods = ['GET', 'POST', 'PURGE', 'PROPFIND', 'MKCOL', 'LOCK', 'DELETE'];
    // 10,000 distinct random URLs (and some made-up methods): the series count must not follow.
    const total = 10_000;
    let next = 0;
    async function worker() {
      while (next < total) {
        const i = next++;
        const path = `/${Math.random().toString(36).slice(2)}/${i}?q=${i}`;
        await send(`${url}${path}`, { method: methods[i % methods.length], agent });
      }
    }
    await Promise.all(Array.from({ length: 32 }, worker));
    agent.destroy();
    const totals = await seriesOf(app, 'http_requests_total');
    const sum = totals.reduce((acc, v) => acc + v.value, 0);
    expect(sum).toBe(total);
    expect(totals.length).toBeLessThanOrEqual(methods.length);
    for (const value of totals) {
      expect(value.labels.route).toBe(UNMATCHED_ROUTE);
      expect(['GET', 'POST', 'DELETE', OTHER_METHOD]).toContain(value.labels.method);
    }
    const durations = await seriesOf(app, 'http_request_duration_seconds');
    // 4 label sets × (11 buckets + +Inf + sum + count)
    expect(durations.length).toBeLessThanOrEqual(4 * 14);
  }, 60_000);

  it('does not count routes flagged bulwarkProbe, including /metrics, unless countProbes', async () => {
    app = Fastify();
    await app.register(observability, quiet);
    app.get('/ready', { config: { bulwarkProbe: true } }, async () => 'ok');
    app.get('/work', async () => 'ok');
    const url = await listen(app);
    await fetch(`${url}/ready`);
    await fetch(`${url}/metrics`);
    await fetch(`${url}/work`);
    const routes = (await seriesOf(app, 'http_requests_total')).map((v) => v.labels.route);
    expect(routes).toStrictEqual(['/work']);

    await app.close();
    app = Fastify();
    await app.register(observability, { ...quiet, metrics: { countProbes: true } });
    app.get('/ready', { config: { bulwarkProbe: true } }, async () => 'ok');
    const url2 = await listen(app);
    await fetch(`${url2}/ready`);
    expect((await seriesOf(app, 'http_requests_total')).map((v) => v.labels.route)).toStrictEqual([
      '/ready',
    ]);
  });

  it('records nothing per request when metrics.http is false', async () => {
    app = Fastify();
    await app.register(observability, { ...quiet, metrics: { http: false } });
    app.get('/work', async () => 'ok');
    await app.inject('/work');
    expect(app.metrics.registry.getSingleMetric('http_requests_total')).toBeUndefined();
  });
});
