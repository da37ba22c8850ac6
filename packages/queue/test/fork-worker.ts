import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('./fixtures/worker.mjs', import.meta.url));

export interface ForkedWorker {
  child: ChildProcess;
  output(): string;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
  /** Messages the worker sent (`{ done: id }` with REPORT=1, `{ closed: true }`). */
  messages: Array<Record<string, unknown>>;
}

/** Starts test/fixtures/worker.mjs (a worker-only app on the built package) and waits until it is ready. */
export async function forkWorker(env: Record<string, string>): Promise<ForkedWorker> {
  const child = fork(fixture, [], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const messages: Array<Record<string, unknown>> = [];
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (message: Record<string, unknown>) => {
      messages.push(message);
      if (message.ready) resolve();
    });
    exited.then(([code, signal]) =>
      reject(new Error(`worker exited (${code ?? signal}) before ready:\n${output}`)),
    );
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await ready.finally(() => clearTimeout(timer));
  return { child, output: () => output, exited, messages };
}
