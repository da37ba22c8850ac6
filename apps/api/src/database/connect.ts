import { mkdir } from 'node:fs/promises';
import pg from 'pg';
import type { Config } from '../config.js';
import { embeddedDataDir, IN_MEMORY } from './data-dir.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded.js';
import { type MigrationResult, migrate } from './migrate.js';

export interface DatabaseServer {
  /** postgres:// URL of the configured server, or of embedded PGlite. */
  url: string;
  embedded: EmbeddedPostgres | undefined;
  /** Embedded only: the data folder, or memory:// when nothing is kept. */
  dataDir: string | undefined;
  close(): Promise<void>;
}

/** The configured PostgreSQL, or embedded PGlite served over the wire protocol when unset. */
export async function startDatabase(config: Config): Promise<DatabaseServer> {
  const dataDir = config.DATABASE_URL ? undefined : embeddedDataDir(config.PGLITE_DATA_DIR);
  if (dataDir && !dataDir.startsWith(IN_MEMORY)) await mkdir(dataDir, { recursive: true });
  const embedded = dataDir ? await startEmbeddedPostgres({ dataDir }) : undefined;
  return {
    url: config.DATABASE_URL ?? embedded!.url,
    embedded,
    dataDir,
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
