// Direct PostgreSQL reads for the scenarios' checks (the outbox), through the same `pg` the API
// uses: it is the API's dependency, not the bench's, so it is resolved from apps/api.
import { createRequire } from 'node:module';

const requireFromApi = createRequire(new URL('../../../apps/api/package.json', import.meta.url));
const pg = requireFromApi('pg');

/** Runs one statement on a short-lived connection and returns its rows. */
export async function query(url, text, params = []) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** Outbox rows (welcome emails) of these users not yet sent. */
export async function pendingEmails(url, userIds) {
  const rows = await query(
    url,
    `SELECT count(*) AS n FROM outbox WHERE user_id = ANY($1::uuid[]) AND status <> 'sent'`,
    [userIds],
  );
  return Number(rows[0].n);
}

export { pg };
