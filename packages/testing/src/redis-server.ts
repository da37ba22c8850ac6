import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { freePort } from './free-port.js';
import { waitFor } from './wait-for.js';

export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Whether the process is running now (a hung one is running). */
  readonly running: boolean;
  /** Whether the process is stopped by {@link RedisServer.hang}. */
  readonly hung: boolean;
  /**
   * SIGSTOPs the server: a partition as clients see it. Connections stay open, the kernel still
   * accepts new ones, nothing answers and nothing is refused. {@link RedisServer.resume} ends it.
   */
  hang(): void;
  /** SIGCONTs a hung server: it answers again, on the same connections. */
  resume(): void;
  /** SIGKILLs the server: connections drop at once, nothing is saved. */
  kill(): Promise<void>;
  /** Starts the server again on the same port (after kill or stop). */
  start(): Promise<void>;
  /** Stops the server for good (SIGTERM, then SIGKILL after 2 s). */
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** The `redis-server` binary. @default process.env.REDIS_SERVER_BIN ?? 'redis-server' */
  binary?: string;
  /** Port to use. @default a free port */
  port?: number;
  /** More redis-server arguments (e.g. cluster mode, used by startRedisCluster). */
  extraArgs?: string[];
}

/** Answers whether something on the port replies +PONG to PING. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
  });
}

/**
 * Starts a private `redis-server` on a free port, persisting nothing, so a test can kill and
 * restart it without touching the machine's own Redis.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const binary = options.binary ?? process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const port = options.port ?? (await freePort());
  let child: ChildProcess | undefined;
  let stderr = '';
  let hung = false;

  async function launch(): Promise<void> {
    const proc = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        ...(options.extraArgs ?? []),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const failed = new Promise<never>((_, reject) => {
      proc.once('error', (error) =>
        reject(
          new Error(
            `startRedis: cannot run "${binary}" (${error.message}); install redis-server (apt-get install -y redis-server) or set REDIS_SERVER_BIN`,
          ),
        ),
      );
    });
    child = proc;
    await Promise.race([
      failed,
      waitFor(() => ping(port), { timeoutMs: 10_000, what: `redis-server on port ${port}` }),
    ]).catch((error: Error) => {
      proc.kill('SIGKILL');
      throw new Error(`${error.message}${stderr ? `\n${stderr}` : ''}`);
    });
  }

  async function terminate(signal: NodeJS.Signals): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill(signal);
    // A stopped process acts on SIGTERM only once it runs again.
    if (hung) proc.kill('SIGCONT');
    hung = false;
    const timer = setTimeout(() => proc.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
  }

  const isRunning = () =>
    child !== undefined && child.exitCode === null && child.signalCode === null;

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return isRunning();
    },
    kill: () => terminate('SIGKILL'),
    async start() {
      if (isRunning()) return;
      await launch();
    },
    stop: () => terminate('SIGTERM'),
    get hung() {
      return hung;
    },
    hang() {
      if (!isRunning())
        throw new Error(`redis-server on port ${port} is not running: cannot hang it`);
      child?.kill('SIGSTOP');
      hung = true;
    },
    resume() {
      if (!hung) return;
      child?.kill('SIGCONT');
      hung = false;
    },
  };
}
