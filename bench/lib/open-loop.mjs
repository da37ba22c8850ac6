// Open-loop load: requests arrive at a fixed rate whether or not earlier answers came back, and
// each latency counts from the request's intended send time (no coordinated omission).
//
// Written by hand because autocannon's `overallRate` is not open loop: each connection gets a
// per-second budget and is closed-loop within it, so a server that answers fast (a shedder's
// instant 503) makes every connection spend its budget early in each second and then sit idle
// for the rest of it; latency is then measured from the actual send, hiding the queue. wrk2,
// which does this properly, is not on npm.
//
// HTTP/1.1 keep-alive over raw sockets, one request in flight per connection; a request that
// finds no idle connection waits in a FIFO (its clock already running) and opens another
// connection, up to `maxConnections`. Responses must carry Content-Length (Fastify's do).
import net from 'node:net';
import { performance } from 'node:perf_hooks';

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * Offers `rate` requests/s of `method path` to `url` for `duration` s (after `warmupMs` not
 * measured). Returns the same figures as measure() in load.mjs.
 */
export async function openLoop(url, load) {
  const { hostname, port } = new URL(url);
  const rate = load.overallRate;
  const durationMs = (load.duration ?? 10) * 1000;
  const warmupMs = load.warmupMs ?? 1000;
  const maxConnections = load.maxConnections ?? 400;
  const headers = Object.entries({ host: `${hostname}:${port}`, ...load.headers })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const request = Buffer.from(
    `${load.method ?? 'GET'} ${load.path ?? '/'} HTTP/1.1\r\n${headers}\r\n`,
  );

  const idle = [];
  const waiting = [];
  const sockets = new Set();
  const ok = [];
  const other = [];
  let errors = 0;
  let measureFrom = Number.POSITIVE_INFINITY;

  const send = (socket, intendedAt) => {
    socket.sentAt = intendedAt;
    socket.write(request);
  };
  const release = (socket) => {
    const next = waiting.shift();
    if (next === undefined) idle.push(socket);
    else send(socket, next);
  };
  const open = () => {
    const socket = net.connect(Number(port), hostname);
    socket.setNoDelay(true);
    socket.buffered = '';
    sockets.add(socket);
    socket.on('connect', () => release(socket));
    socket.on('data', (chunk) => {
      socket.buffered += chunk.toString('latin1');
      for (;;) {
        const end = socket.buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = socket.buffered.slice(0, end);
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (socket.buffered.length < end + 4 + length) return;
        socket.buffered = socket.buffered.slice(end + 4 + length);
        const status = Number(head.slice(9, 12));
        if (socket.sentAt >= measureFrom) {
          (status >= 200 && status < 300 ? ok : other).push(performance.now() - socket.sentAt);
        }
        release(socket);
      }
    });
    socket.on('error', () => {
      errors += 1;
    });
    socket.on('close', () => {
      sockets.delete(socket);
      const at = idle.indexOf(socket);
      if (at >= 0) idle.splice(at, 1);
    });
  };

  for (let index = 0; index < Math.min(100, maxConnections); index += 1) open();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const start = performance.now();
  measureFrom = start + warmupMs;
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - start) * rate) / 1000);
    for (; sent < due; sent += 1) {
      const intendedAt = start + (sent * 1000) / rate;
      const socket = idle.pop();
      if (socket) send(socket, intendedAt);
      else {
        waiting.push(intendedAt);
        if (sockets.size < maxConnections) open();
      }
    }
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, warmupMs + durationMs));
  clearInterval(timer);
  const seconds = (performance.now() - measureFrom) / 1000;
  // Let the requests in flight finish (up to the request timeout); those that don't count as
  // errors: they were offered and not served.
  const settleBy = performance.now() + (load.timeoutSeconds ?? 5) * 1000;
  while ((waiting.length > 0 || idle.length < sockets.size) && performance.now() < settleBy) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const unanswered =
    waiting.length + [...sockets].filter((socket) => !idle.includes(socket)).length;
  for (const socket of sockets) socket.destroy();

  ok.sort((a, b) => a - b);
  const all = [...ok, ...other].sort((a, b) => a - b);
  return {
    reqPerSec: all.length / seconds,
    goodputPerSec: ok.length / seconds,
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    okP99: percentile(ok, 99),
    ok: ok.length,
    non2xx: other.length,
    errors: errors + unanswered,
  };
}
