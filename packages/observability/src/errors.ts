import createError from '@fastify/error';

/** An option given to the plugin is missing, of the wrong type, or out of range. */
export const InvalidOptionError = createError<[string]>(
  'BULWARK_OBSERVABILITY_INVALID_OPTION',
  '@bulwark/observability: %s',
  500,
  TypeError,
);

/** The plugin was registered twice in the same encapsulation scope. */
export const AlreadyRegisteredError = createError(
  'BULWARK_OBSERVABILITY_ALREADY_REGISTERED',
  '@bulwark/observability is already registered in this scope; register it once, at the root of the app',
  500,
);

/** The metrics endpoint has a token and the request did not carry `Authorization: Bearer <token>`. */
export const UnauthorizedError = createError(
  'BULWARK_OBSERVABILITY_UNAUTHORIZED',
  'reading metrics requires a bearer token; send Authorization: Bearer <token>',
  401,
);

/** `fastify.metrics.counter/gauge/histogram` was asked for a name already registered as another type. */
export const MetricConflictError = createError<[string, string, string]>(
  'BULWARK_OBSERVABILITY_METRIC_CONFLICT',
  'metric %s is already registered as a %s, not a %s; pick another name',
  500,
);

/** Collecting metrics for a scrape failed (a metric's `collect()` threw); details go to the log only. */
export const ScrapeFailedError = createError(
  'BULWARK_OBSERVABILITY_SCRAPE_FAILED',
  'collecting metrics failed',
  500,
);

/** The `/otel` preload found tracing configured but the OpenTelemetry packages it needs are not installed. */
export const OtelMissingError = createError<[string, string]>(
  'BULWARK_OBSERVABILITY_OTEL_MISSING',
  '@bulwark/observability/otel: tracing is configured (OTEL_EXPORTER_OTLP_*ENDPOINT) but %s not installed; run `npm install %s`, or unset the endpoint',
  500,
);

/** `pretty` logging was asked for (or NODE_ENV is development) and pino-pretty is not installed. */
export const PrettyMissingError = createError(
  'BULWARK_OBSERVABILITY_PRETTY_MISSING',
  '@bulwark/observability: pretty logs need pino-pretty, which is not installed; run `npm install -D pino-pretty`, or set pretty: false',
  500,
);
