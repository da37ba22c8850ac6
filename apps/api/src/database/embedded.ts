import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { serializeProtocolSequences } from './protocol-serializer.js';

export interface EmbeddedPostgres {
  /** postgres:// URL that `pg` connects to, like any other server. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Runs PostgreSQL in-process (PGlite, WebAssembly) and serves it over the Postgres wire protocol
 * on a free loopback port, so the app's `pg` code path is the same as in production.
 */
export async function startEmbeddedPostgres(
  options: { dataDir?: string | undefined; maxConnections?: number } = {},
): Promise<EmbeddedPostgres> {
  const db = await PGlite.create(options.dataDir ?? 'memory://');
  const server = new PGLiteSocketServer({
    db,
    host: '127.0.0.1',
    port: 0,
    // PGlite runs one statement at a time; the socket server multiplexes these connections.
    maxConnections: options.maxConnections ?? 10,
  });
  serializeProtocolSequences(server);
  await server.start();
  // "host:port" once listening; port 0 has been replaced by the one the OS gave.
  const hostPort = server.getServerConn();
  return {
    url: `postgres://postgres@${hostPort}/postgres`,
    async close() {
      await server.stop();
      await db.close();
    },
  };
}
