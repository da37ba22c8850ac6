import { FastifyOtelInstrumentation } from '@fastify/otel';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTEL_STARTED } from './tracing.js';

/**
 * Starts the Node SDK. Everything not set in the environment gets this package's defaults, written
 * back to `process.env` so the SDK's own env parsing stays the single source of truth:
 * - `OTEL_TRACES_SAMPLER=parentbased_traceidratio` (ratio from `OTEL_TRACES_SAMPLER_ARG`, default 1);
 * - `OTEL_PROPAGATORS=tracecontext,baggage` (W3C);
 * - `OTEL_METRICS_EXPORTER=none` and `OTEL_LOGS_EXPORTER=none`: metrics go to Prometheus through
 *   `fastify.metrics`, logs through pino;
 * - `OTEL_SERVICE_NAME` / `service.version` from `npm_package_name` / `npm_package_version` when run
 *   through npm scripts.
 * The trace exporter is OTLP, protocol from `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf` by
 * default, `http/json` accepted).
 */
export function startTracing(): NodeSDK {
  const env = process.env;
  env.OTEL_TRACES_SAMPLER ??= 'parentbased_traceidratio';
  env.OTEL_PROPAGATORS ??= 'tracecontext,baggage';
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  if (env.OTEL_SERVICE_NAME === undefined && env.npm_package_name)
    env.OTEL_SERVICE_NAME = env.npm_package_name;
  if (
    env.npm_package_version &&
    !(env.OTEL_RESOURCE_ATTRIBUTES ?? '').includes('service.version=')
  ) {
    const version = `service.version=${env.npm_package_version}`;
    env.OTEL_RESOURCE_ATTRIBUTES = env.OTEL_RESOURCE_ATTRIBUTES
      ? `${env.OTEL_RESOURCE_ATTRIBUTES},${version}`
      : version;
  }

  const sdk = new NodeSDK({
    instrumentations: [
      new HttpInstrumentation(),
      // Registers itself on every Fastify instance (diagnostics channel `fastify.initialization`)
      // and sets the route template as `http.route` on the HTTP server span.
      new FastifyOtelInstrumentation({ registerOnInitialization: true }),
      new PgInstrumentation(),
      new IORedisInstrumentation(),
      new UndiciInstrumentation(),
    ],
  });
  sdk.start();
  (globalThis as Record<symbol, unknown>)[OTEL_STARTED] = true;
  // The plugin flushes on app.close(); this catches apps that exit without closing.
  process.once('beforeExit', () => {
    sdk.shutdown().catch(() => undefined);
  });
  return sdk;
}
