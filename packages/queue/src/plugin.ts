import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AlreadyRegisteredError } from './errors.js';
import { type QueueOptions, resolveOptions } from './options.js';
import { QueueManager } from './queue-manager.js';
import { discoverDeadlines } from './request-deadline.js';
import { createQueueMetrics, type HealthLike, type MetricsLike } from './telemetry.js';
import type { Queues } from './types.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Job queues (@bulwark/queue): define, add, process, replay dead jobs, stats. */
    queues: Queues;
  }
  interface FastifyContextConfig {
    /** Marks an infrastructure endpoint (probe, metrics): never rate limited or shed, not counted in HTTP metrics. */
    bulwarkProbe?: boolean;
  }
}

const registered = Symbol('bulwark.queue.registered');

async function bulwarkQueue(fastify: FastifyInstance, options: QueueOptions): Promise<void> {
  if ((fastify as unknown as Record<symbol, unknown>)[registered]) {
    throw new AlreadyRegisteredError();
  }
  const resolved = resolveOptions(options);
  fastify.decorate(registered, true);
  const instance = fastify as unknown as Record<string, unknown>;
  const metrics = fastify.hasDecorator('metrics') ? (instance.metrics as MetricsLike) : undefined;
  const health = fastify.hasDecorator('health') ? (instance.health as HealthLike) : undefined;
  const log = fastify.log.child({ plugin: '@bulwark/queue' });
  const manager = new QueueManager(
    resolved,
    log,
    createQueueMetrics(metrics),
    health,
    discoverDeadlines(fastify),
  );
  if (!manager.enabled) {
    log.info('no connection configured: queues are disabled (add() answers 503)');
  }
  fastify.decorate('queues', manager as unknown as Queues);
  fastify.addHook('onReady', async () => manager.start());
  fastify.addHook('onClose', async () => manager.close());
}

export { bulwarkQueue };
export default fp(bulwarkQueue, { name: '@bulwark/queue', fastify: '5.x' });
