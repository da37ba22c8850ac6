/**
 * Where the rate limiter leaves, on the request, the time it waited on the shared (Redis) store,
 * in ms, so the load shedder can leave that wait out of its latency sample (see shedding.ts).
 */
export const kStoreWaitMs = Symbol('bulwark.limits.storeWaitMs');

/** A request that may carry the store wait. */
export type StoreWaitCarrier = { [kStoreWaitMs]?: number };
