import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../src/database/embedded.js';

describe('embedded PGlite shared by several pg clients', () => {
  let database: EmbeddedPostgres;
  let clients: pg.Client[] = [];
  beforeAll(async () => {
    database = await startEmbeddedPostgres({ dataDir: 'memory://' });
    // Connected before the test starts: the clients' sequences, not their startups, must overlap.
    clients = Array.from({ length: 5 }, () => new pg.Client({ connectionString: database.url }));
    for (const client of clients) await client.connect();
  });
  afterAll(async () => {
    for (const client of clients) await client.end().catch(() => undefined);
    await database?.close();
  });

  it("keeps each client's extended-query sequences apart while a transaction waits", async () => {
    const [transactionClient, ...echoClients] = clients as [pg.Client, ...pg.Client[]];
    await transactionClient.query('CREATE TABLE t (id int PRIMARY KEY)');
    // A transaction that waits between its statements (as the outbox relay once did around
    // Redis): the other clients' messages pile up behind it and run together at COMMIT.
    const transaction = (async () => {
      await transactionClient.query('BEGIN');
      for (let index = 0; index < 10; index += 1) {
        await transactionClient.query('INSERT INTO t (id) VALUES ($1)', [index]);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await transactionClient.query('COMMIT');
    })();
    // Each client echoes its parameters through a statement of its own: another client's Parse
    // or Bind between its messages would show as a wrong row or a protocol error.
    const echoes = echoClients.map(async (client, clientIndex) => {
      const problems: string[] = [];
      for (let index = 0; index < 40; index += 1) {
        const expected = `c${clientIndex}-${index}`;
        try {
          const { rows } = await client.query<{ a: string; b: number; c: number }>(
            `SELECT $1::text AS a, $2::int AS b, ${clientIndex} AS c`,
            [expected, index],
          );
          const row = rows[0];
          if (row?.a !== expected || row?.b !== index || row?.c !== clientIndex) {
            problems.push(`${expected} → ${JSON.stringify(row)}`);
          }
        } catch (error) {
          problems.push(`${expected} → ${(error as Error).message}`);
        }
      }
      return problems;
    });
    const [, ...results] = await Promise.all([transaction, ...echoes]);
    expect(results.flat()).toStrictEqual([]);
    const { rows } = await transactionClient.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM t',
    );
    expect(rows[0]?.n).toBe(10);
  });
});
