import observability, { serverOptions } from '@bulwark/observability';
import queue from '@bulwark/queue';
import Fastify from 'fastify';
import { ConfigError, loadConfig } from './config.js';
import { plainPool } from './database/connect.js';
import { poolDb } from './database/pool-db.js';
import { processEmails, type QueuesLike } from './jobs/email.js';

/**
 * Worker-only process: the same queue definitions as the API, consuming jobs, serving no HTTP.
 * Run it with WORKERS=off on the API so jobs are processed here only.
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

const pool = plainPool(config.DATABASE_URL!, config);
const app = Fastify(
  serverOptions({ level: config.LOG_LEVEL, pretty: config.NODE_ENV === 'development' }),
);
await app.register(observability);
await app.register(queue, { connection: config.REDIS_URL! });
processEmails((app as unknown as { queues: QueuesLike }).queues, poolDb(pool));
app.addHook('onClose', async function closePool() {
  await pool.end();
});
await app.ready();
app.log.info('worker started: consuming the email queue');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    app.log.info({ signal }, 'worker draining');
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
