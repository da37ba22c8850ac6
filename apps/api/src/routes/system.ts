import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../database/db.js';

const MigrationsResponse = Type.Object({
  database: Type.String({ description: 'server_version reported by PostgreSQL' }),
  items: Type.Array(
    Type.Object({ id: Type.Integer(), name: Type.String(), appliedAt: Type.String() }),
  ),
});

/**
 * A route that reads the database, so a fresh start shows the whole path works:
 * `fastify.db` → pg → PostgreSQL or PGlite → the applied migrations.
 */
export async function systemRoutes(app: FastifyInstance, options: { db: Db }): Promise<void> {
  const { db } = options;

  app.get(
    '/api/v1/system/migrations',
    { schema: { response: { 200: MigrationsResponse } } },
    async () => {
      const [version, applied] = await Promise.all([
        db.query<{ server_version: string }>('SHOW server_version'),
        db.query<{ id: number; name: string; applied_at: Date }>(
          'SELECT id, name, applied_at FROM schema_migrations ORDER BY id',
        ),
      ]);
      return {
        database: version.rows[0]?.server_version ?? 'unknown',
        items: applied.rows.map((row) => ({
          id: row.id,
          name: row.name,
          appliedAt: row.applied_at.toISOString(),
        })),
      };
    },
  );
}
