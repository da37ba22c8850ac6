import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { createDatabase, defaultAdminUrl } from '../src/index.js';

const adminUrl = process.env.TEST_DATABASE_URL ?? defaultAdminUrl;

async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return rowCount === 1;
  } finally {
    await client.end();
  }
}

describe('createDatabase', () => {
  it('hands the run a fresh, empty database of its own', async () => {
    const url = inject('databaseUrl');
    const name = new URL(url).pathname.slice(1);
    expect(name).toMatch(/^bulwark_test_\d+_[0-9a-f]{8}$/);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
    await client.end();
    expect(rows[0]?.db).toBe(name);
  });

  it('creates a database and drops it, even with a session still connected', async () => {
    const database = await createDatabase();
    expect(await databaseExists(database.name)).toBe(true);
    const lingering = new pg.Client({ connectionString: database.url });
    lingering.on('error', () => undefined);
    await lingering.connect();
    await database.drop();
    expect(await databaseExists(database.name)).toBe(false);
    await lingering.end().catch(() => undefined);
  });

  it('says which server it could not reach and how to point it elsewhere', async () => {
    await expect(createDatabase('postgres://postgres@127.0.0.1:1/postgres')).rejects.toThrow(
      /cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/postgres.*TEST_DATABASE_URL/,
    );
  });
});
