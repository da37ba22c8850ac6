import plugin, { bulwarkLimits, type LimitsDecorator, type LimitsRouteConfig } from './plugin.js';

export { bulwarkLimits };
export type { LimitsDecorator, LimitsRouteConfig };
export {
  AdaptiveConcurrencyLimit,
  type AdaptiveConcurrencyLimitOptions,
} from './concurrency-limit.js';
export { limitsOptionsFromEnv } from './env.js';
export * as errors from './errors.js';
export {
  createFastifyRateLimitStore,
  type FastifyRateLimitStoreClass,
  type FastifyRateLimitStoreOptions,
} from './fastify-rate-limit-store.js';
export { type GcraDecision, type GcraPolicy, gcra, gcraPolicy } from './gcra.js';
export type { KeyExtractor, LimitsOptions } from './options.js';
export type { TierName, TierOverride, TierRouteConfig } from './rate-limit.js';
export { type LoadSafeServerOptions, parseTrustProxy, serverOptions } from './server-options.js';
export type { Priority, ShedReason } from './shedding.js';
export { recordDependencyWait } from './store-wait.js';
export default plugin;
