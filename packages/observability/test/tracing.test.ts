import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ChildApp, spawnApp, waitFor } from '@bulwark/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OtlpReceiver, type ReceivedSpan } from './helpers/otlp-receiver.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const SERVER = 2;

// The preload runs in a child `node` process, which loads the package through its exports map
// (dist/), so build it first — unless dist/ is already newer than every source file.
function build(): void {
  const sources = readdirSync(join(packageDir, 'src')).map(
    (file) => statSync(join(packageDir, 'src', file)).mtimeMs,
  );
  const built = ['index.js', 'otel.js', 'otel-sdk.js'].map((file) => {
    try {
      return statSync(join(packageDir, 'dist', file)).mtimeMs;
    } catch {
      return 0;
    }
  });
  if (Math.min(...built) > Math.max(...sources)) return;
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: packageDir,
    stdio: 'pipe',
  });
}

describe('OpenTelemetry preload (@bulwark/observability/otel)', () => {
  const receiver = new OtlpReceiver();
  let app: ChildApp | undefined;

  beforeAll(async () => {
    build();
  }, 60_000);

  afterAll(async () => {
    await app?.stop('SIGKILL');
    await receiver.close();
  });

  it('exports a server span with http.route and a child pg span in the same trace, flushed on close; logs and exemplars carry the trace id', async () => {
    const endpoint = await receiver.start();
    app = await spawnApp({
      cwd: packageDir,
      args: ['--import', '@bulwark/observability/otel', 'test/fixtures/traced-app.mjs'],
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: 'bulwark-trace-test',
        // Spans would sit in the batch for a minute: only the onClose flush can deliver them.
        OTEL_BSP_SCHEDULE_DELAY: '60000',
        DATABASE_URL: inject('databaseUrl'),
        NODE_ENV: 'production',
        LOG_LEVEL: 'info',
      },
    });

    const response = await fetch(`${app.url}/users/7`);
    expect(response.status).toBe(200);
    expect(await response.json()).toStrictEqual({ id: 7 });
    const requestId = response.headers.get('x-request-id');

    const scrape = await fetch(`${app.url}/metrics`, {
      headers: { accept: 'application/openmetrics-text' },
    });
    const metrics = await scrape.text();

    const stopped = await app.stop('SIGTERM');
    expect(stopped.code).toBe(0);

    const spans = await waitFor(
      () => {
        const server = receiver.spans.find(
          (s) => s.kind === SERVER && s.attributes['http.route'] === '/users/:id',
        );
        const query = receiver.spans.find((s) => s.name.startsWith('pg.query'));
        return server && query ? { server, query } : undefined;
      },
      { timeoutMs: 10_000, what: 'server and pg spans at the receiver' },
    );
    const { server, query } = spans;
    expect(server.scope).toBe('@opentelemetry/instrumentation-http');
    expect(server.name).toBe('GET /users/:id');
    expect(query.traceId).toBe(server.traceId);
    expect(query.attributes['db.system.name'] ?? query.attributes['db.system']).toBe('postgresql');
    // The pg span descends from the server span (through Fastify's handler span).
    const byId = new Map<string, ReceivedSpan>(receiver.spans.map((s) => [s.spanId, s]));
    let parent = query.parentSpanId ? byId.get(query.parentSpanId) : undefined;
    while (parent && parent.spanId !== server.spanId) {
      parent = parent.parentSpanId ? byId.get(parent.parentSpanId) : undefined;
    }
    expect(parent?.spanId).toBe(server.spanId);
    expect(receiver.contentTypes).toContain('application/json');

    // Every log line of the request carries the trace and span ids.
    const lines = app
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.reqId === requestId);
    expect(lines.map((line) => line.msg)).toStrictEqual([
      'looking the user up',
      'request completed',
    ]);
    for (const line of lines) {
      expect(line.trace_id).toBe(server.traceId);
      expect(line.span_id).toMatch(/^[0-9a-f]{16}$/);
    }

    // OpenMetrics exemplars: the request's bucket carries its trace id.
    expect(metrics).toMatch(
      new RegExp(
        `http_request_duration_seconds_bucket\\{le="[^"]+",method="GET",route="/users/:id",status_code="200"\\} 1 # \\{trace_id="${server.traceId}"\\} [0-9.e-]+ [0-9.]+`,
      ),
    );
  }, 60_000);

  it('loads no SDK and installs nothing without an OTLP endpoint', () => {
    const out = execFileSync(
      process.execPath,
      [
        '--import',
        '@bulwark/observability/otel',
        '-e',
        "console.log(JSON.stringify({ started: globalThis[Symbol.for('bulwark.observability.otel')] === true, sdk: Object.keys(require.cache).some((k) => k.includes('sdk-node')) }))",
      ],
      {
        cwd: packageDir,
        env: {
          ...process.env,
          OTEL_EXPORTER_OTLP_ENDPOINT: '',
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
        },
      },
    ).toString();
    expect(JSON.parse(out)).toStrictEqual({ started: false, sdk: false });
  });
});
