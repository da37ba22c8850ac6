/**
 * The OpenTelemetry packages the `/otel` preload loads. They are optional peer dependencies of
 * @bulwark/observability: an app that does not trace installs none of them (the SDK, its
 * exporters and gRPC weigh tens of megabytes).
 */
export const OTEL_PEERS = [
  '@opentelemetry/sdk-node',
  '@opentelemetry/instrumentation',
  '@opentelemetry/instrumentation-http',
  '@opentelemetry/instrumentation-ioredis',
  '@opentelemetry/instrumentation-pg',
  '@opentelemetry/instrumentation-undici',
  '@fastify/otel',
] as const;

/**
 * The peers that `resolve` cannot find, in {@link OTEL_PEERS} order. `resolve` is the preload's
 * `import.meta.resolve`, so packages are looked up from where the app installed this package.
 */
export function missingOtelPeers(resolve: (specifier: string) => string): string[] {
  return OTEL_PEERS.filter((name) => {
    try {
      resolve(name);
      return false;
    } catch {
      return true;
    }
  });
}
