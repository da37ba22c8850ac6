import type pg from 'pg';

/** What the routes need from the database: `fastify.db` from @bulwark/resilience has this shape. */
export interface Db {
  query<Row extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    params?: unknown[],
    options?: { idempotent?: boolean },
  ): Promise<pg.QueryResult<Row>>;
  transaction<T>(run: (client: Pick<pg.PoolClient, 'query'>) => Promise<T>): Promise<T>;
}
