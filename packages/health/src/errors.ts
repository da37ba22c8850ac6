import createError from '@fastify/error';

/** An option given to the plugin is missing, of the wrong type, or out of range. */
export const InvalidOptionError = createError<[string]>(
  'BULWARK_HEALTH_INVALID_OPTION',
  '@bulwark/health: %s',
  500,
  TypeError,
);

/** The plugin was registered twice in the same encapsulation scope. */
export const AlreadyRegisteredError = createError(
  'BULWARK_HEALTH_ALREADY_REGISTERED',
  '@bulwark/health is already registered in this scope; register it once, at the root of the app',
  500,
);

/** `fastify.health.register()` was given an invalid check definition. */
export const InvalidCheckError = createError<[string]>(
  'BULWARK_HEALTH_INVALID_CHECK',
  '@bulwark/health: %s',
  500,
  TypeError,
);

/** A check with this name is already registered. */
export const DuplicateCheckError = createError<[string]>(
  'BULWARK_HEALTH_DUPLICATE_CHECK',
  '@bulwark/health: a check named "%s" is already registered; give each check a unique name',
  500,
);

/** A check did not settle within its timeout (it is aborted and reported failed). */
export const CheckTimeoutError = createError<[number]>(
  'BULWARK_HEALTH_CHECK_TIMEOUT',
  'check timed out after %d ms',
  503,
);

/** Body of `GET <prefix>/ready` when the app must not receive traffic. */
export const NotReadyError = createError<[string]>(
  'BULWARK_HEALTH_NOT_READY',
  'not ready: %s',
  503,
);

/** Body of `GET <prefix>/startup` while startup is not complete. */
export const StartingError = createError<[string]>(
  'BULWARK_HEALTH_STARTING',
  'startup incomplete: %s',
  503,
);

/** `GET <prefix>/detailed` without the configured bearer token. */
export const UnauthorizedError = createError(
  'BULWARK_HEALTH_UNAUTHORIZED',
  'send the health token as "Authorization: Bearer <token>" to read the detailed health report',
  401,
);

/** `POST <ops.path>/queues/:name/replay` named a queue the app does not define. */
export const OpsUnknownQueueError = createError<[string]>(
  'BULWARK_HEALTH_OPS_UNKNOWN_QUEUE',
  'no queue named "%s": replay one of the queues the ops page lists',
  404,
);
