import type pg from 'pg';
import { migrations as defaultMigrations, type Migration } from './migrations.js';

/** Arbitrary but fixed: every instance of the API takes the same advisory lock. */
const MIGRATION_LOCK_KEY = 7_271_001;

export interface MigrationResult {
  applied: string[];
  total: number;
}

/**
 * Applies pending migrations in order, each in its own transaction, under a session-level
 * advisory lock so that instances starting together run them once. A small runner rather than
 * a migration framework: the schema is a handful of statements and must also run on PGlite.
 */
export async function migrate(
  pool: pg.Pool,
  migrations: readonly Migration[] = defaultMigrations,
): Promise<MigrationResult> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        id integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await client.query<{ id: number }>('SELECT id FROM schema_migrations');
    const done = new Set(rows.map((row) => row.id));
    const applied: string[] = [];
    for (const migration of [...migrations].sort((a, b) => a.id - b.id)) {
      if (done.has(migration.id)) continue;
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (id, name) VALUES ($1, $2)', [
          migration.id,
          migration.name,
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(
          `migration ${migration.id} (${migration.name}) failed: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      applied.push(`${migration.id}-${migration.name}`);
    }
    return { applied, total: migrations.length };
  } finally {
    await client
      .query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
      .catch(() => undefined);
    client.release();
  }
}
