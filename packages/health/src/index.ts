import plugin, { bulwarkHealth } from './plugin.js';

export { bulwarkHealth };
export type {
  CheckFunction,
  CheckReport,
  CheckStatus,
  HealthCheck,
  OverallStatus,
} from './check-registry.js';
export * as errors from './errors.js';
export type { HealthOptions } from './options.js';
export type { HealthRegistry } from './plugin.js';
export default plugin;
