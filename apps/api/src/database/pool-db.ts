import type pg from 'pg';
import type { Db } from './db.js';

/** `Db` over a plain pool, for tools (migrations, the worker) that run without the plugins. */
export function poolDb(pool: pg.Pool): Db {
  return {
    query: (text, params) => pool.query(text, params as unknown[]),
    async transaction(run) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await run(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
  };
}
