/** Attaches `Retry-After` (whole seconds, at least 1) to an error; Fastify's error path sends `error.headers`. */
export function withRetryAfter<E extends object>(
  error: E,
  seconds: number,
): E & { headers: Record<string, string> } {
  const value = String(Math.max(1, Math.ceil(seconds)));
  const target = error as E & { headers?: Record<string, string> };
  target.headers = { ...target.headers, 'retry-after': value };
  return target as E & { headers: Record<string, string> };
}
