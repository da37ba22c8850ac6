import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '@bulwark/testing';

const benchRoot = fileURLToPath(new URL('..', import.meta.url));
export const hasTaskset = spawnSync('taskset', ['--version']).status === 0;

/**
 * Re-runs the calling script once under `taskset -c 1` (the load generator's CPU; servers get
 * CPU 0) and exits with its status; returns at once when already pinned or without taskset.
 */
export function pinLoadGenerator() {
  if (!hasTaskset || process.env.BULWARK_BENCH_PINNED) return;
  const result = spawnSync('taskset', ['-c', '1', process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, BULWARK_BENCH_PINNED: '1' },
  });
  process.exit(result.status ?? 1);
}

/** Starts one server under test in its own process, pinned to CPU 0 when taskset exists. */
export async function startServer(server, extraEnv = {}) {
  const port = await freePort();
  const entry = fileURLToPath(new URL(server.entry, new URL('../', import.meta.url)));
  const command = hasTaskset ? 'taskset' : process.execPath;
  const args = hasTaskset ? ['-c', '0', process.execPath, entry] : [entry];
  let output = '';
  const child = spawn(command, args, {
    cwd: benchRoot,
    env: { ...process.env, ...extraEnv, ...server.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr.on('data', (chunk) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const readyPath = server.readyPath ?? '/hello';
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${output}`);
        return (await fetch(url + readyPath)).status < 500;
      },
      { timeoutMs: 30_000, what: `${server.label} at ${url}${readyPath}` },
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    url,
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await once(child, 'exit');
      clearTimeout(timer);
    },
  };
}
