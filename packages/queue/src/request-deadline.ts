/**
 * The deadline of the HTTP request an `add()` is made for, as @bulwark/resilience exposes it
 * (`fastify.breakers.currentDeadline()`). Discovered, not imported: without @bulwark/resilience
 * `add()` is bounded by `enqueueTimeoutMs` alone.
 */
export interface RequestDeadlineLike {
  /** Aborts when the request's client disconnects or its budget is spent. */
  readonly signal: AbortSignal;
  /** Milliseconds left of the request's budget (`Infinity` without one). */
  remainingMs(): number;
}

/** Returns the deadline of the request being handled in the calling async context, if any. */
export type DeadlineSource = () => RequestDeadlineLike | undefined;

/** `fastify.breakers.currentDeadline` when @bulwark/resilience is registered before this plugin. */
export function discoverDeadlines(instance: {
  hasDecorator(name: string): boolean;
}): DeadlineSource | undefined {
  if (!instance.hasDecorator('breakers')) return undefined;
  const breakers = (instance as unknown as { breakers?: { currentDeadline?: unknown } }).breakers;
  const current = breakers?.currentDeadline;
  if (typeof current !== 'function') return undefined;
  return () => current.call(breakers) as RequestDeadlineLike | undefined;
}
