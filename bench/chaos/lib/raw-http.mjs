// Raw HTTP/1.1 over a TCP socket, for requests node:http refuses to send: bytes that are not
// Latin-1 in a path or header, oversized or numerous headers, malformed request lines. One
// connection per request (`Connection: close`); the answer is read until the server closes.
import { connect } from 'node:net';

/**
 * Sends `spec` (`{ url, method, headers: [[name, value]], body, target }`; `target`, a string
 * or raw bytes, overrides the request target verbatim; `value`s may be Buffers) and resolves `{ status, headers, body }`
 * once the server closed the connection. A server that answers before reading a whole oversized
 * body and resets the socket still yields its status; a reset before any status rejects.
 * Matches steady-load.mjs's `transport(agent, spec, timeoutMs)` (the agent is unused).
 */
export function sendRaw(_agent, spec, timeoutMs) {
  return new Promise((resolve, reject) => {
    const url = new URL(spec.url);
    const body = spec.body === undefined ? Buffer.alloc(0) : Buffer.from(spec.body);
    const lines = [
      Buffer.from(`${spec.method ?? 'GET'} `),
      Buffer.isBuffer(spec.target)
        ? spec.target
        : Buffer.from(spec.target ?? url.pathname + url.search, 'latin1'),
      Buffer.from(` HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n`),
    ];
    for (const [name, value] of spec.headers ?? []) {
      lines.push(Buffer.from(`${name}: `), Buffer.from(value), Buffer.from('\r\n'));
    }
    if (body.length > 0 || spec.method === 'POST' || spec.method === 'PATCH') {
      lines.push(Buffer.from(`Content-Length: ${body.length}\r\n`));
    }
    lines.push(Buffer.from('\r\n'), body);
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    const chunks = [];
    let settled = false;
    const finish = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (!match) {
        reject(
          error ?? Object.assign(new Error('closed without an answer'), { code: 'NO_ANSWER' }),
        );
        return;
      }
      const [head, ...rest] = text.split('\r\n\r\n');
      const headers = {};
      for (const line of head.split('\r\n').slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(match[1]), headers, body: rest.join('\r\n\r\n') });
    };
    const timer = setTimeout(
      () =>
        finish(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'TIMEOUT' })),
      timeoutMs,
    );
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    // EPIPE/ECONNRESET while the server refuses an oversized request: its answer may be read.
    socket.on('error', (error) => finish(error));
    socket.write(Buffer.concat(lines));
  });
}
