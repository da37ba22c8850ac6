import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Where the harness creates its databases; override with TEST_DATABASE_URL. */
export const defaultAdminUrl = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** Connection string of the fresh database. */
  readonly url: string;
  readonly name: string;
  /** Drops the database, ending any session still connected to it. */
  drop(): Promise<void>;
}

async function withAdmin<T>(adminUrl: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `createDatabase: cannot reach PostgreSQL at ${adminUrl.replace(/:[^:@/]+@/, ':***@')} (${(error as Error).message}); start it or set TEST_DATABASE_URL`,
      { cause: error },
    );
  }
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Creates a uniquely named, empty database on the server at `adminUrl`. */
export async function createDatabase(
  adminUrl: string = process.env.TEST_DATABASE_URL ?? defaultAdminUrl,
  prefix = 'bulwark_test',
): Promise<TestDatabase> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin(adminUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () =>
      withAdmin(adminUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
      ).then(() => undefined),
  };
}
