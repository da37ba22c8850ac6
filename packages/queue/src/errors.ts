import createError from '@fastify/error';

/** An option given to the plugin is missing, of the wrong type, or out of range. */
export const InvalidOptionError = createError<[string]>(
  'BULWARK_QUEUE_INVALID_OPTION',
  '@bulwark/queue: %s',
  500,
  TypeError,
);

/** The plugin was registered twice in the same encapsulation scope. */
export const AlreadyRegisteredError = createError(
  'BULWARK_QUEUE_ALREADY_REGISTERED',
  '@bulwark/queue is already registered in this scope; register it once, at the root of the app',
  500,
);

/** `define()` or `process()` was called with a bad name, schema or options, or twice. */
export const InvalidDefinitionError = createError<[string]>(
  'BULWARK_QUEUE_INVALID_DEFINITION',
  '@bulwark/queue: %s',
  500,
  TypeError,
);

/** `add()`, `process()` or `replayDead()` named a queue that `define()` never declared. */
export const UnknownQueueError = createError<[string]>(
  'BULWARK_QUEUE_UNKNOWN',
  '@bulwark/queue: queue "%s" is not defined; call fastify.queues.define() first',
  500,
);

/** The payload given to `add()` does not match the queue's schema; nothing was enqueued. */
export const InvalidPayloadError = createError<[string, string]>(
  'BULWARK_QUEUE_INVALID_PAYLOAD',
  'Invalid payload for queue "%s": %s',
  400,
);

/** The plugin was registered without `connection`: queues are declared but nothing is enqueued. */
export const DisabledError = createError(
  'BULWARK_QUEUE_DISABLED',
  'The job queue is disabled on this instance',
  503,
);

/** Redis did not accept the job within `enqueueTimeoutMs`, or the app is shutting down. */
export const UnavailableError = createError(
  'BULWARK_QUEUE_UNAVAILABLE',
  'The job queue is temporarily unavailable; try again later',
  503,
);

/** The reason a job's signal aborts, and the error its attempt fails with, at its deadline. */
export const JobTimeoutError = createError<[string, string, number]>(
  'BULWARK_QUEUE_JOB_TIMEOUT',
  'Job %s of queue "%s" passed its %d ms deadline',
  500,
);

/** The reason a job's signal aborts when shutdown's drain time is spent; the job is left for retry. */
export const JobInterruptedError = createError<[string, string]>(
  'BULWARK_QUEUE_JOB_INTERRUPTED',
  'Job %s of queue "%s" was interrupted by shutdown and left for retry',
  503,
);
