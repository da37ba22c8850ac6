import plugin, { bulwarkQueue } from './plugin.js';

export { bulwarkQueue };
export { type DeadJob, deadLetterQueueName } from './dead-letter.js';
export * as errors from './errors.js';
export type {
  BackoffOptions,
  JobDefaults,
  JobDefaultsInput,
  QueueOptions,
} from './options.js';
export type {
  AddOptions,
  DeadOptions,
  DefinedQueue,
  JobHandler,
  ProcessOptions,
  QueueData,
  QueueDataMap,
  QueueDefinition,
  QueueStats,
  Queues,
} from './types.js';
export default plugin;
