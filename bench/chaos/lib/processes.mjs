// Child processes of a chaos run: the reference API (`dist/server.js`) and its worker
// (`dist/worker.js`). Every process started here is tracked, so the runner can kill whatever a
// failed scenario left behind, and so nothing outlives the run.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnApp } from '@bulwark/testing';

export const apiRoot = fileURLToPath(new URL('../../../apps/api/', import.meta.url));

const live = new Set();

function track(child) {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** SIGKILLs every tracked process still running and waits for the exits (the runner's backstop). */
export async function killAll() {
  const exits = [];
  for (const child of live) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    exits.push(once(child, 'exit'));
    child.kill('SIGKILL');
  }
  await Promise.all(exits);
}

/** Processes still tracked as running (the runner reports them as leaked). */
export function runningCount() {
  return [...live].filter((child) => child.exitCode === null && child.signalCode === null).length;
}

/**
 * Starts `node dist/server.js` with `env` on a free port and waits until `/health/ready` answers
 * 200. Returns the @bulwark/testing ChildApp plus `pid` and an idempotent `kill()`.
 */
export async function startApi(env, { readyTimeoutMs = 30_000 } = {}) {
  const app = await spawnApp({
    args: ['dist/server.js'],
    cwd: apiRoot,
    env,
    readyPath: '/health/ready',
    readyTimeoutMs,
  });
  track(app.child);
  return {
    ...app,
    pid: app.child.pid,
    get running() {
      return app.child.exitCode === null && app.child.signalCode === null;
    },
    async kill() {
      if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill('SIGKILL');
      return app.exited;
    },
  };
}

/** Starts `node dist/worker.js` (no HTTP); its output is kept for the scenario to read. */
export function startWorker(env) {
  let output = '';
  const child = track(
    spawn(process.execPath, ['dist/worker.js'], {
      cwd: apiRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  child.stdout.on('data', (chunk) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk) => {
    output += chunk.toString();
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }));
  return {
    pid: child.pid,
    child,
    exited,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Resident set size of a process in bytes, from /proc/<pid>/status (VmRSS). */
export function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}
