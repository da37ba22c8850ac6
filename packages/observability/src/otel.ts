/**
 * Preload entry: `node --import @bulwark/observability/otel ./app.js`.
 *
 * Starts the OpenTelemetry Node SDK from the standard `OTEL_*` environment variables, before the
 * app's modules load (so `http`, `pg`, `ioredis` and `undici` are instrumented). With no
 * `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or with
 * `OTEL_SDK_DISABLED=true`, it loads nothing else and installs no hook: it costs nothing.
 */
import { register } from 'node:module';

const env = process.env;
const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;

if (endpoint && env.OTEL_SDK_DISABLED !== 'true') {
  // Checked before anything loads: a missing optional peer otherwise surfaces as a bare
  // ERR_MODULE_NOT_FOUND from deep inside the SDK, naming one package of several.
  const { missingOtelPeers } = await import('./otel-peers.js');
  const missing = missingOtelPeers((name) => import.meta.resolve(name));
  if (missing.length > 0) {
    const { OtelMissingError } = await import('./errors.js');
    throw new OtelMissingError(
      `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'}`,
      missing.join(' '),
    );
  }
  // ESM apps import `pg`, `ioredis`, … through the ESM loader, which require-in-the-middle never
  // sees: the import-in-the-middle hook lets the instrumentations patch them there too.
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const { startTracing } = await import('./otel-sdk.js');
  startTracing();
}
