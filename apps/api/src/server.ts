import { randomBytes } from 'node:crypto';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { migrateDatabase, startDatabase } from './database/connect.js';
import { IN_MEMORY, persistedJwtSecret } from './database/data-dir.js';

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
// Outside production a missing secret is generated: kept beside embedded data (so tokens live as
// long as the accounts they name), per process with an external database or in memory mode.
const generated = config.JWT_SECRET
  ? undefined
  : database.dataDir
    ? await persistedJwtSecret(database.dataDir)
    : { secret: randomBytes(48).toString('base64url') };
const jwtSecret = config.JWT_SECRET ?? generated!.secret;
const app = await buildApp({
  config,
  databaseUrl: database.url,
  embedded: database.embedded !== undefined,
  jwtSecret,
  // The last shutdown step: after the queue drained, the relay stopped and the pool ended.
  ...(database.embedded ? { stopDatabase: () => database.close() } : {}),
});

if (generated?.file) {
  app.log.info(
    { file: generated.file },
    `JWT_SECRET is not set: using the secret kept in ${generated.file}`,
  );
} else if (generated) {
  app.log.warn('JWT_SECRET is not set: using a throwaway secret; tokens stop working on restart');
}
if (!database.dataDir) {
  app.log.info('using PostgreSQL from DATABASE_URL');
} else if (database.dataDir.startsWith(IN_MEMORY)) {
  app.log.info(
    { dataDir: database.dataDir },
    'DATABASE_URL is not set: running embedded PostgreSQL (PGlite) in memory; data is lost when the process stops',
  );
} else {
  app.log.info(
    { dataDir: database.dataDir },
    `DATABASE_URL is not set: running embedded PostgreSQL (PGlite); data lives in ${database.dataDir}`,
  );
}
app.log.info(
  config.REDIS_URL
    ? 'using Redis from REDIS_URL'
    : 'REDIS_URL is not set: rate limits are per process and the queue is disabled',
);
app.log.info({ applied, total }, `migrations: ${applied.length} applied, ${total} known`);

// SIGTERM/SIGINT and crashes are handled by @bulwark/health's graceful shutdown.
const address = await app.listen({ port: config.PORT, host: config.HOST });
app.log.info(`Bulwark API listening on ${address} (docs: ${address}/docs)`);
