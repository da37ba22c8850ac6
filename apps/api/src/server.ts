import { randomBytes } from 'node:crypto';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { migrateDatabase, startDatabase } from './database/connect.js';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

const database = await startDatabase(config);
const { applied, total } = await migrateDatabase(database.url);
// Outside production a missing secret is generated: tokens die with the process, by design.
const jwtSecret = config.JWT_SECRET ?? randomBytes(48).toString('base64url');
const app = await buildApp({
  config,
  databaseUrl: database.url,
  embedded: database.embedded !== undefined,
  jwtSecret,
});
// Registered last, so it runs after the plugins' own close hooks (the pool ends before PGlite).
app.addHook('onClose', async function closeDatabase() {
  await database.close();
});

if (!config.JWT_SECRET) {
  app.log.warn('JWT_SECRET is not set: using a throwaway secret; tokens stop working on restart');
}
app.log.info(
  database.embedded
    ? 'DATABASE_URL is not set: running embedded PostgreSQL (PGlite); data lives in memory unless PGLITE_DATA_DIR is set'
    : 'using PostgreSQL from DATABASE_URL',
);
app.log.info(
  config.REDIS_URL
    ? 'using Redis from REDIS_URL'
    : 'REDIS_URL is not set: rate limits are per process and the queue is disabled',
);
app.log.info({ applied, total }, `migrations: ${applied.length} applied, ${total} known`);

// SIGTERM/SIGINT and crashes are handled by @bulwark/health's graceful shutdown.
const address = await app.listen({ port: config.PORT, host: config.HOST });
app.log.info(`Bulwark API listening on ${address} (docs: ${address}/docs)`);
