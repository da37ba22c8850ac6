import { connect } from 'node:net';
import type pg from 'pg';

/** What a pg client knows about its server backend (set after the startup handshake). */
interface BackendKey {
  host?: string;
  port?: number;
  processID?: number | null;
  secretKey?: number | null;
}

// CancelRequest: length 16, code 80877102, backend pid, secret key (protocol 3.0, all int32).
const cancelRequestCode = 80_877_102;

/**
 * Asks Postgres to cancel whatever statement the client's backend is running, the way libpq's
 * PQcancel does: a new connection that sends one CancelRequest and closes. Postgres does not
 * notice on its own that a client went away while a statement runs, so without this an abandoned
 * query would run to the end for nobody. Written by hand because pg's own `Client#cancel` has no
 * deadline and never closes its socket, which on a partitioned network leaks a connection per
 * call. Resolves when the request was sent, the deadline passed or the connection failed; never
 * rejects (cancelling is best effort: the caller destroys the client anyway).
 */
export function sendCancelRequest(client: pg.PoolClient, deadlineMs = 1000): Promise<boolean> {
  const key = client as unknown as BackendKey;
  const { host, port, processID, secretKey } = key;
  if (typeof processID !== 'number' || typeof secretKey !== 'number' || !host) {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const socket = host.startsWith('/')
      ? connect(`${host}/.s.PGSQL.${port ?? 5432}`)
      : connect({ host, port: port ?? 5432 });
    let sent = false;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(sent);
    };
    const timer = setTimeout(done, deadlineMs);
    timer.unref();
    socket.once('error', done);
    socket.once('connect', () => {
      const message = Buffer.alloc(16);
      message.writeInt32BE(16, 0);
      message.writeInt32BE(cancelRequestCode, 4);
      message.writeInt32BE(processID, 8);
      message.writeInt32BE(secretKey, 12);
      socket.write(message, () => {
        sent = true;
        // The server closes the connection after reading the request; end() lets it flush.
        socket.end();
      });
    });
    socket.once('close', done);
  });
}
