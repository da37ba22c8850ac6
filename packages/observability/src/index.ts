import plugin, { bulwarkObservability } from './plugin.js';

export { bulwarkObservability };
export * as errors from './errors.js';
export { OTHER_METHOD, UNMATCHED_ROUTE } from './http-metrics.js';
export type { BulwarkLoggerOptions, LoggerSetupOptions } from './logger.js';
export { loggerOptions, serverOptions, traceMixin } from './logger.js';
export type { MetricConfig, Metrics } from './metrics.js';
export type { ObservabilityOptions, ResolvedObservabilityOptions } from './options.js';
export { DEFAULT_DURATION_BUCKETS } from './options.js';
export { DEFAULT_REDACT_KEYS } from './redact.js';
export default plugin;
