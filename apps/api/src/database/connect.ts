import pg from 'pg';
import type { Config } from '../config.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded.js';
import { type MigrationResult, migrate } from './migrate.js';

export interface DatabaseServer {
  /** postgres:// URL of the configured server, or of embedded PGlite. */
  url: string;
  embedded: EmbeddedPostgres | undefined;
  close(): Promise<void>;
}

/** The configured PostgreSQL, or embedded PGlite served over the wire protocol when unset. */
export async function startDatabase(config: Config): Promise<DatabaseServer> {
  const embedded = config.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({ dataDir: config.PGLITE_DATA_DIR });
  return {
    url: config.DATABASE_URL ?? embedded!.url,
    embedded,
    async close() {
      await embedded?.close();
    },
  };
}

/** Runs the migrations on a short-lived connection of their own, before the app takes traffic. */
export async function migrateDatabase(url: string): Promise<MigrationResult> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  pool.on('error', () => undefined);
  try {
    return await migrate(pool);
  } finally {
    await pool.end();
  }
}

/** A plain pool for processes that do not register @bulwark/resilience. */
export function plainPool(url: string, config: Config): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: config.DB_POOL_MAX,
    connectionTimeoutMillis: config.DB_CONNECTION_TIMEOUT_MS,
    idleTimeoutMillis: config.DB_IDLE_TIMEOUT_MS,
    keepAlive: true,
  });
  // An idle client's error (server restart, network cut) must never crash the process.
  pool.on('error', () => undefined);
  return pool;
}
