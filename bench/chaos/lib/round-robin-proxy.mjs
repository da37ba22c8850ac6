// A small round-robin HTTP load balancer for the rolling-restart scenario, behaving like a
// cloud load balancer with an active health check: it polls each backend's readiness endpoint
// and routes only to backends whose last poll answered 200.
//
// It never retries: a request that fails upstream is answered 502 (a request with no ready
// backend 503), each with an `x-chaos-proxy` header naming why, so every failure the restart
// causes reaches the load generator instead of being hidden by a second attempt.
import { once } from 'node:events';
import http from 'node:http';

// Headers that describe one connection, not the message: never forwarded either way.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEnd(headers) {
  const kept = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name)) kept[name] = value;
  }
  return kept;
}

/**
 * Listens on 127.0.0.1 and a free port. `pollIntervalMs` is how often each backend's
 * `readyPath` is polled; a poll that errors or takes longer than `pollTimeoutMs` marks it unready.
 */
export async function startRoundRobinProxy({
  pollIntervalMs = 100,
  pollTimeoutMs = 1_000,
  readyPath = '/health/ready',
} = {}) {
  const backends = [];
  let cursor = 0;
  const counts = { noBackend: 0, upstreamErrors: 0 };

  function pick() {
    for (let step = 0; step < backends.length; step += 1) {
      const backend = backends[(cursor + step) % backends.length];
      if (backend.ready) {
        cursor = (cursor + step + 1) % backends.length;
        return backend;
      }
    }
    return undefined;
  }

  function poll(backend) {
    if (backend.polling) return;
    backend.polling = true;
    const request = http.get(`${backend.url}${readyPath}`, { agent: false }, (response) => {
      response.resume();
      response.on('end', () => {
        backend.polling = false;
        backend.ready = response.statusCode === 200 && backends.includes(backend);
      });
    });
    request.setTimeout(pollTimeoutMs, () => request.destroy(new Error('poll timeout')));
    request.on('error', () => {
      backend.polling = false;
      backend.ready = false;
    });
  }

  const server = http.createServer((request, response) => {
    const backend = pick();
    if (!backend) {
      counts.noBackend += 1;
      response.writeHead(503, { 'x-chaos-proxy': 'no ready backend' });
      response.end();
      request.resume();
      return;
    }
    backend.routed += 1;
    const upstream = http.request({
      host: backend.host,
      port: backend.port,
      method: request.method,
      path: request.url,
      headers: endToEnd(request.headers),
      agent: backend.agent,
    });
    const fail = (error) => {
      counts.upstreamErrors += 1;
      backend.errors += 1;
      if (!response.headersSent) {
        response.writeHead(502, { 'x-chaos-proxy': `upstream ${error.code ?? error.message}` });
        response.end();
      } else {
        response.destroy(error);
      }
    };
    upstream.on('error', fail);
    upstream.on('response', (answer) => {
      answer.on('error', fail);
      // A response cut mid-body: pass the cut on rather than ending it as if complete.
      answer.on('aborted', () => response.destroy(new Error('upstream aborted')));
      response.writeHead(answer.statusCode, endToEnd(answer.headers));
      answer.pipe(response);
    });
    request.pipe(upstream);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();

  const timer = setInterval(() => {
    for (const backend of backends) poll(backend);
  }, pollIntervalMs);

  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    /** Adds a backend; it gets traffic once a poll finds it ready. */
    add(url) {
      const parsed = new URL(url);
      const backend = {
        url,
        host: parsed.hostname,
        port: Number(parsed.port),
        ready: false,
        polling: false,
        routed: 0,
        errors: 0,
        agent: new http.Agent({ keepAlive: true, maxSockets: 64 }),
      };
      backends.push(backend);
      poll(backend);
      return backend;
    },
    /** Removes a backend (after its process exited) and closes its pooled sockets. */
    remove(url) {
      const index = backends.findIndex((backend) => backend.url === url);
      if (index === -1) return undefined;
      const [backend] = backends.splice(index, 1);
      backend.ready = false;
      backend.agent.destroy();
      return backend;
    },
    isReady(url) {
      return backends.find((backend) => backend.url === url)?.ready === true;
    },
    async close() {
      clearInterval(timer);
      for (const backend of backends) backend.agent.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
