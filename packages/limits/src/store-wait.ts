/**
 * Where the rate limiter leaves, on the request, the time it waited on the shared (Redis) store,
 * in ms, so the load shedder can leave that wait out of its latency sample (see shedding.ts).
 */
export const kStoreWaitMs = Symbol('bulwark.limits.storeWaitMs');

/** A request that may carry the store wait. */
export type StoreWaitCarrier = { [kStoreWaitMs]?: number };

/**
 * Records that `request` spent `ms` waiting on a dependency with a budget of its own (a
 * bulkhead, a worker pool at low priority): the load shedder leaves that wait out of the
 * request's latency sample, as it does the rate-limit store's. Without it, a route that waits
 * seconds on purpose (password hashing behind a bulkhead) reads as overload of the whole server,
 * the adaptive limit falls, and cheap routes are shed.
 */
export function recordDependencyWait(request: object, ms: number): void {
  if (!(ms > 0)) return;
  const carrier = request as StoreWaitCarrier;
  carrier[kStoreWaitMs] = (carrier[kStoreWaitMs] ?? 0) + ms;
}
