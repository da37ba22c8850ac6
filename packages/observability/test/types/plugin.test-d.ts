import Fastify from 'fastify';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { expectTypeOf } from 'vitest';
import observability, {
  type BulwarkLoggerOptions,
  bulwarkObservability,
  loggerOptions,
  type Metrics,
  type ObservabilityOptions,
  serverOptions,
} from '../../src/index.js';

const app = Fastify(serverOptions());
app.register(observability);
app.register(bulwarkObservability, {});
app.register(observability, {
  metrics: {
    enabled: true,
    path: '/metrics',
    token: 'x',
    port: 9464,
    host: '0.0.0.0',
    defaultMetrics: true,
    prefix: '',
    http: true,
    countProbes: false,
    buckets: [0.1, 1],
    exemplars: true,
  },
  requestId: { header: 'x-request-id', maxLength: 128 },
  requestLog: { enabled: true, slowMs: 1000, probes: false },
  memory: { enabled: true, intervalMs: 30_000, threshold: 0.9 },
  tracing: { flushOnClose: true },
});
// @ts-expect-error wrong type
app.register(observability, { metrics: { port: '9464' } });
// @ts-expect-error unknown key
app.register(observability, { metrics: { nope: true } });
// @ts-expect-error unknown top-level key
app.register(observability, { nope: true });

expectTypeOf<ObservabilityOptions['requestLog']>().toEqualTypeOf<
  { enabled?: boolean; slowMs?: number; probes?: boolean } | undefined
>();

expectTypeOf(app.metrics).toEqualTypeOf<Metrics>();
expectTypeOf(app.metrics.registry).toEqualTypeOf<Registry>();
expectTypeOf(app.metrics.counter({ name: 'a_total', help: 'a', labelNames: ['x'] })).toEqualTypeOf<
  Counter<'x'>
>();
expectTypeOf(app.metrics.gauge({ name: 'g', help: 'g' })).toEqualTypeOf<Gauge<string>>();
expectTypeOf(app.metrics.histogram({ name: 'h', help: 'h', buckets: [1] })).toEqualTypeOf<
  Histogram<string>
>();

app.get('/probe', { config: { bulwarkProbe: true } }, async (request) => {
  expectTypeOf(request.userId).toEqualTypeOf<string | number | null>();
  expectTypeOf(request.tenantId).toEqualTypeOf<string | number | null>();
  request.userId = 'u-1';
  request.tenantId = 42;
  return 'ok';
});
// @ts-expect-error bulwarkProbe is a boolean
app.get('/bad', { config: { bulwarkProbe: 'yes' } }, async () => 'ok');

expectTypeOf(loggerOptions()).toEqualTypeOf<BulwarkLoggerOptions>();
loggerOptions({ level: 'debug', pretty: false, redactKeys: ['ssn'], file: '/tmp/x.log' });
// @ts-expect-error redactKeys takes strings
loggerOptions({ redactKeys: [1] });
Fastify({ logger: loggerOptions() });
