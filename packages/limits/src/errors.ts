import createError from '@fastify/error';

/** An option given to the plugin is missing, of the wrong type, or out of range. */
export const InvalidOptionError = createError<[string]>(
  'BULWARK_LIMITS_INVALID_OPTION',
  '@bulwark/limits: %s',
  500,
  TypeError,
);

/** The plugin was registered twice in the same encapsulation scope. */
export const AlreadyRegisteredError = createError(
  'BULWARK_LIMITS_ALREADY_REGISTERED',
  '@bulwark/limits is already registered in this scope; register it once, at the root of the app',
  500,
);

/** A rate-limit tier is spent for this client; `Retry-After` says when to come back. */
export const RateLimitedError = createError<[string, string]>(
  'BULWARK_LIMITS_RATE_LIMITED',
  'Too many requests for the %s rate limit; retry after %s seconds',
  429,
);

/** The server is over its concurrency limit or a load backstop; `Retry-After` says when to retry. */
export const OverloadedError = createError<[string]>(
  'BULWARK_LIMITS_OVERLOADED',
  'The server is overloaded; retry after %s seconds',
  503,
);

/** `redis` is a URL but the optional peer dependency ioredis is not installed. */
export const IoredisMissingError = createError(
  'BULWARK_LIMITS_IOREDIS_MISSING',
  '@bulwark/limits: option redis is a URL, which needs the ioredis package, and it is not installed; run `npm install ioredis` (or pass an ioredis client, or register @fastify/redis first)',
  500,
);
