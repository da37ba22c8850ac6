import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { InvalidOptionError } from './errors.js';

/** Default buckets of `http_request_duration_seconds`, in seconds. */
export const DEFAULT_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const MetricsSchema = Type.Object(
  {
    enabled: Type.Boolean({
      default: true,
      description: 'Create `fastify.metrics` and serve the metrics endpoint.',
    }),
    path: Type.String({
      default: '/metrics',
      pattern: '^/',
      description:
        'Path of the scrape endpoint (main port, or the separate port when `metrics.port` is set).',
    }),
    token: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'When set, the endpoint answers 401 unless the request carries `Authorization: Bearer <token>`.',
      }),
    ),
    port: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 65535,
        description:
          'Serve the endpoint on this separate port instead of the main one (started on ready, closed on close).',
      }),
    ),
    host: Type.String({
      default: '0.0.0.0',
      description: 'Interface the separate metrics port binds to (only with `metrics.port`).',
    }),
    defaultMetrics: Type.Boolean({
      default: true,
      description:
        'Collect Node.js default metrics (event loop lag, heap, GC, handles) and event loop utilization.',
    }),
    prefix: Type.String({
      default: '',
      pattern: '^([a-zA-Z_:][a-zA-Z0-9_:]*)?$',
      description:
        'Prefix of every metric family in the registry: the Node.js defaults, the HTTP metrics and every metric another plugin adds through `fastify.metrics` (e.g. `myapp_`).',
    }),
    http: Type.Boolean({
      default: true,
      description:
        'Record HTTP RED metrics (`http_request_duration_seconds`, `http_requests_total`, `http_requests_in_flight`).',
    }),
    countProbes: Type.Boolean({
      default: false,
      description:
        'Also count routes flagged `bulwarkProbe: true` (probes, the metrics endpoint) in HTTP metrics.',
    }),
    buckets: Type.Array(Type.Number({ exclusiveMinimum: 0 }), {
      minItems: 1,
      default: DEFAULT_DURATION_BUCKETS,
      description: 'Upper bounds of the `http_request_duration_seconds` buckets, in seconds.',
    }),
    exemplars: Type.Boolean({
      default: true,
      description:
        'Attach the `trace_id` of a recent sampled request to duration buckets in OpenMetrics output (when tracing is active).',
    }),
  },
  { additionalProperties: false, default: {} },
);

const RequestIdSchema = Type.Object(
  {
    header: Type.String({
      default: 'x-request-id',
      minLength: 1,
      description:
        'Incoming header honoured as the request id when safe, and echoed on every response.',
    }),
    maxLength: Type.Integer({
      default: 128,
      minimum: 1,
      maximum: 1024,
      description:
        'Longest incoming id honoured; longer (or non `[A-Za-z0-9._:-]`) ids are replaced by a UUID.',
    }),
  },
  { additionalProperties: false, default: {} },
);

const RequestLogSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Log one completion line per request.' }),
    slowMs: Type.Number({
      default: 1000,
      minimum: 0,
      description: 'Requests slower than this (milliseconds) are logged at warn as `slow request`.',
    }),
    probes: Type.Boolean({
      default: false,
      description: 'Also log completion lines for routes flagged `bulwarkProbe: true`.',
    }),
  },
  { additionalProperties: false, default: {} },
);

const MemorySchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Watch heap use on an unref’d timer.' }),
    intervalMs: Type.Integer({
      default: 30_000,
      minimum: 10,
      description: 'Sampling interval, in milliseconds.',
    }),
    threshold: Type.Number({
      default: 0.9,
      exclusiveMinimum: 0,
      maximum: 1,
      description:
        'Warn when heap used / heap size limit passes this ratio; the warning carries the growth trend.',
    }),
  },
  { additionalProperties: false, default: {} },
);

const TracingSchema = Type.Object(
  {
    flushOnClose: Type.Boolean({
      default: true,
      description: 'Flush pending spans of the global tracer provider in `onClose`.',
    }),
  },
  { additionalProperties: false, default: {} },
);

/** Options schema for @bulwark/observability. Every key carries its default and description. */
export const ObservabilityOptionsSchema = Type.Object(
  {
    metrics: MetricsSchema,
    requestId: RequestIdSchema,
    requestLog: RequestLogSchema,
    memory: MemorySchema,
    tracing: TracingSchema,
  },
  { additionalProperties: false },
);

type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** Options accepted by `fastify.register(observability, options)`. */
export type ObservabilityOptions = DeepPartial<Static<typeof ObservabilityOptionsSchema>>;
/** Options after defaults are applied. */
export type ResolvedObservabilityOptions = Static<typeof ObservabilityOptionsSchema>;

/** Validates options once, at registration; throws naming the option, the value and the rule. */
export function resolveOptions(
  input: ObservabilityOptions | undefined,
): ResolvedObservabilityOptions {
  if (
    input !== undefined &&
    (typeof input !== 'object' || input === null || Array.isArray(input))
  ) {
    throw new InvalidOptionError(`options must be an object, got ${JSON.stringify(input)}`);
  }
  const value = Value.Default(ObservabilityOptionsSchema, structuredClone(input ?? {}));
  const first = Value.Errors(ObservabilityOptionsSchema, value).First();
  if (first) {
    const path = first.path.replaceAll('/', '.').replace(/^\./, '') || '(root)';
    throw new InvalidOptionError(
      `option ${path} ${first.message.toLowerCase()}, got ${JSON.stringify(first.value)}`,
    );
  }
  return value as ResolvedObservabilityOptions;
}
