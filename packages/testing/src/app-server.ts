import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { FastifyInstance } from 'fastify';
import { freePort } from './free-port.js';
import { waitFor } from './wait-for.js';

/** Starts a Fastify app as a real listening server on 127.0.0.1 and a free port. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address !== 'object')
    throw new Error('listen: the app has no TCP address');
  return `http://127.0.0.1:${address.port}`;
}

export interface ChildApp {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Everything the child printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves when the child exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal (default SIGTERM) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnAppOptions {
  /** Arguments after `node`, e.g. `['--import', 'tsx', 'src/server.ts']` or `['dist/server.js']`. */
  args: string[];
  cwd?: string;
  /** Added to the parent's environment; PORT and HOST are set by the helper. */
  env?: Record<string, string | undefined>;
  /** Polled until it answers with a status below 500. @default '/health' */
  readyPath?: string;
  /** @default 20000 (ms) */
  readyTimeoutMs?: number;
}

/**
 * Runs an app in its own Node.js process on a free port and waits until it serves, for tests
 * about signals, crashes and shutdown that must not take the test runner down with them.
 */
export async function spawnApp(options: SpawnAppOptions): Promise<ChildApp> {
  const port = await freePort();
  let output = '';
  const child = spawn(process.execPath, options.args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const url = `http://127.0.0.1:${port}`;
  const readyPath = options.readyPath ?? '/health';
  let gone = false;
  const died = exited.then(() => {
    gone = true;
    throw new Error(`the process exited before serving:\n${output}`);
  });
  try {
    await Promise.race([
      died,
      waitFor(
        async () => {
          const response = await fetch(url + readyPath);
          return response.status < 500;
        },
        { timeoutMs: options.readyTimeoutMs ?? 20_000, intervalMs: 50, what: `${url}${readyPath}` },
      ),
    ]);
  } catch (error) {
    if (!gone) child.kill('SIGKILL');
    throw new Error(`spawnApp: ${(error as Error).message}\n--- output ---\n${output}`);
  }
  // Once serving, a later exit is the test's business (read `exited`), not an unhandled rejection.
  died.catch(() => undefined);
  return {
    url,
    port,
    child,
    output: () => output,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (!gone) child.kill(signal);
      return exited;
    },
  };
}
