import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** What the proxy does with traffic right now. */
export type FaultMode = 'pass' | 'blackhole';

export interface FaultProxy {
  readonly port: number;
  /** `127.0.0.1:<port>`; build a connection string by swapping host and port for these. */
  readonly host: string;
  /** Open client connections the proxy is carrying. */
  readonly connections: number;
  /** Destroys every open connection pair at once (both sides see a reset). */
  cut(): void;
  /** Stops listening, so new connections get ECONNREFUSED; open ones are cut too. */
  refuse(): Promise<void>;
  /** Adds this much delay to every chunk, both directions. 0 removes it. */
  latency(ms: number): void;
  /** Accepts connections and reads their bytes but forwards nothing, either way. */
  blackhole(): void;
  /** Back to a clean pass-through: listening, no latency, forwarding. */
  heal(): Promise<void>;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Where to forward, e.g. the harness's Redis or PostgreSQL. */
  target: { host: string; port: number };
  /** Listen port. @default a free port */
  port?: number;
}

interface Pair {
  client: Socket;
  upstream: Socket;
}

/**
 * A TCP proxy that fault tests put between code and a real server, so they can cut, refuse,
 * slow or blackhole the connection. Written by hand because the available ones (toxiproxy)
 * are separate binaries outside the npm registry; this is a few dozen lines on node:net.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const pairs = new Set<Pair>();
  let mode: FaultMode = 'pass';
  let delayMs = 0;
  let server: Server | undefined;
  let port = options.port ?? 0;

  // Forwards a chunk now or after the configured delay, preserving order per direction.
  function forward(from: Socket, to: Socket): void {
    let chain: Promise<void> = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      if (mode === 'blackhole') return;
      if (delayMs === 0) {
        to.write(chunk);
        return;
      }
      const wait = delayMs;
      chain = chain.then(
        () =>
          new Promise<void>((resolve) => {
            setTimeout(() => {
              if (mode !== 'blackhole' && !to.destroyed) to.write(chunk);
              resolve();
            }, wait).unref();
          }),
      );
    });
  }

  function onConnection(client: Socket): void {
    const upstream = connect(options.target);
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    const teardown = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', teardown).on('close', teardown);
    upstream.on('error', teardown).on('close', teardown);
    forward(client, upstream);
    forward(upstream, client);
  }

  async function listen(): Promise<void> {
    const next = createServer(onConnection);
    next.listen(port, '127.0.0.1');
    await once(next, 'listening');
    const address = next.address();
    if (address && typeof address === 'object') port = address.port;
    server = next;
  }

  function cut(): void {
    for (const { client, upstream } of pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    pairs.clear();
  }

  async function stopListening(): Promise<void> {
    const current = server;
    server = undefined;
    if (!current) return;
    const closed = new Promise<void>((resolve) => current.close(() => resolve()));
    cut();
    await closed;
  }

  await listen();
  return {
    get port() {
      return port;
    },
    get host() {
      return `127.0.0.1:${port}`;
    },
    get connections() {
      return pairs.size;
    },
    cut,
    refuse: stopListening,
    latency(ms: number) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`latency must be ≥ 0 ms, got ${ms}`);
      delayMs = ms;
    },
    blackhole() {
      mode = 'blackhole';
    },
    async heal() {
      mode = 'pass';
      delayMs = 0;
      if (!server) await listen();
    },
    close: stopListening,
  };
}

/** Returns `url` with its host and port replaced by the proxy's. */
export function throughProxy(url: string, proxy: Pick<FaultProxy, 'port'>): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(proxy.port);
  return parsed.toString();
}
