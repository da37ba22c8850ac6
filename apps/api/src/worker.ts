import health from '@bulwark/health';
import observability, { serverOptions } from '@bulwark/observability';
import queue from '@bulwark/queue';
import resilience from '@bulwark/resilience';
import Fastify from 'fastify';
import { ConfigError, loadConfig } from './config.js';
import type { Db } from './database/db.js';
import { resilientDbOptions } from './database/pool-options.js';
import { processEmails, type QueuesLike } from './jobs/email.js';
import { shutdownStep } from './shutdown-steps.js';

/**
 * Worker-only process: the same queue definitions as the API, consuming jobs. It serves only the
 * health probes (and /metrics) on WORKER_HEALTH_PORT, so Kubernetes can probe it like the API:
 * readiness includes the `queue:email:consumer` check (critical), which fails when the consumer
 * stops taking jobs. Run it with WORKERS=off on the API so jobs are processed here only.
 */
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
  const missing = (['REDIS_URL', 'DATABASE_URL'] as const).filter((name) => !config[name]);
  if (missing.length > 0) {
    throw new ConfigError(
      missing
        .map(
          (name) =>
            `Invalid configuration: ${name} is unset: the worker process needs it (the embedded database lives inside the API process)`,
        )
        .join('\n'),
    );
  }
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

const app = Fastify(
  serverOptions({ level: config.LOG_LEVEL, pretty: config.NODE_ENV === 'development' }),
);
await app.register(
  observability,
  config.METRICS_TOKEN ? { metrics: { token: config.METRICS_TOKEN } } : {},
);
await app.register(health, {
  production: config.NODE_ENV === 'production',
  version: '0.1.0',
  ...(config.HEALTH_TOKEN ? { token: config.HEALTH_TOKEN } : {}),
  ...(config.SHUTDOWN_DELAY_MS === undefined ? {} : { shutdownDelayMs: config.SHUTDOWN_DELAY_MS }),
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
});
// Same ordered, bounded shutdown as the API (see shutdown-steps.ts for why the reverse order).
shutdownStep(app, 'pool ended');
await app.register(resilience, { db: resilientDbOptions(config, config.DATABASE_URL!) });
shutdownStep(app, 'queue workers drained');
await app.register(queue, {
  connection: config.REDIS_URL!,
  drainTimeoutMs: Math.floor(config.SHUTDOWN_TIMEOUT_MS / 2),
  consumerLivenessMs: config.QUEUE_CONSUMER_LIVENESS_MS,
  // In the worker the consumer is this instance's whole job: a stalled consumer unreadies it.
  // (In the API it stays non-critical: Redis is shared, and the API serves without it.)
  consumerCheckCritical: true,
});
shutdownStep(app, 'health port closed; draining queue workers');
const db: Db = app.db;
processEmails((app as unknown as { queues: QueuesLike }).queues, db, app.log);

const address = await app.listen({ port: config.WORKER_HEALTH_PORT, host: config.HOST });
app.log.info(`worker started: consuming the email queue; health on ${address}/health`);
