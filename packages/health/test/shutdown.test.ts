// Signal tests run the app in a child process (test/fixtures/app.mjs), so that signals, exit
// codes and process handlers never touch the test runner.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ChildApp, spawnApp, waitFor } from '@bulwark/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, fixture } from './helpers/built.js';

interface Answer {
  status: number;
  connection: string | undefined;
  body: string;
}

function get(url: string, agent: http.Agent | false = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            connection: response.headers.connection,
            body,
          }),
        );
      })
      .on('error', reject);
  });
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

let child: ChildApp | undefined;
beforeAll(() => ensureBuilt(), 60_000);
afterEach(async () => {
  if (child && child.child.exitCode === null && child.child.signalCode === null) {
    child.child.kill('SIGKILL');
    await child.exited;
  }
  child = undefined;
});

async function start(env: Record<string, string>): Promise<ChildApp> {
  child = await spawnApp({ args: [fixture('app.mjs')], env, readyPath: '/health/live' });
  return child;
}

describe('graceful shutdown', () => {
  it('on SIGTERM finishes 20 in-flight requests, is unready during the delay while live, refuses new connections after close, runs close hooks in reverse order and exits 0', async () => {
    const app = await start({ SHUTDOWN_DELAY_MS: '1500', SLOW_MS: '2200', CLOSE_HOOK_MS: '300' });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
    const inFlight = Array.from({ length: 20 }, () => get(`${app.url}/slow`, agent));
    await waitFor(async () => count(app.output(), 'slow request started') === 20, {
      timeoutMs: 5_000,
      intervalMs: 10,
      what: '20 slow requests in flight',
    });

    const signalledAt = performance.now();
    app.child.kill('SIGTERM');
    // Readiness turns 503 at once, liveness stays 200, for the whole delay.
    await waitFor(async () => (await get(`${app.url}/health/ready`)).status === 503, {
      timeoutMs: 500,
      intervalMs: 5,
      what: 'readiness 503 after SIGTERM',
    });
    const duringDelay: Array<[number, number]> = [];
    while (performance.now() - signalledAt < 700) {
      const [ready, live] = await Promise.all([
        get(`${app.url}/health/ready`),
        get(`${app.url}/health/live`),
      ]);
      duringDelay.push([ready.status, live.status]);
      await sleep(50);
    }
    expect(duringDelay.length).toBeGreaterThan(3);
    expect(duringDelay.every(([ready, live]) => ready === 503 && live === 200)).toBe(true);

    const answers = await Promise.all(inFlight);
    expect(answers.map((answer) => answer.status)).toStrictEqual(Array(20).fill(200));
    expect(answers.every((answer) => answer.body === '{"done":true}')).toBe(true);
    expect(answers.every((answer) => answer.connection === 'close')).toBe(true);

    // The server closed once those answers went out; the close hooks (3 × 300 ms) still run.
    let refused: string | undefined;
    await waitFor(
      async () => {
        try {
          await get(`${app.url}/health/live`);
          return false;
        } catch (error) {
          refused = (error as NodeJS.ErrnoException).code;
          return true;
        }
      },
      { timeoutMs: 1_000, intervalMs: 10, what: 'new connections refused' },
    );
    expect(refused).toBe('ECONNREFUSED');
    expect(app.child.exitCode).toBeNull();

    const exit = await app.exited;
    agent.destroy();
    expect(exit).toStrictEqual({ code: 0, signal: null });
    const output = app.output();
    const order = ['third', 'second', 'first'].map((name) =>
      output.indexOf(`close hook ran: ${name}`),
    );
    expect(order.every((index) => index >= 0)).toBe(true);
    expect(order).toStrictEqual([...order].sort((a, b) => a - b));
    expect(output).toContain('shutdown complete');
  });

  it('exits 1 at the shutdown deadline and names the onClose hook that hangs', async () => {
    const app = await start({ HANG_HOOK: '1', SHUTDOWN_TIMEOUT_MS: '1500' });
    const signalledAt = performance.now();
    const exit = await app.stop('SIGTERM');
    const took = performance.now() - signalledAt;
    expect(exit).toStrictEqual({ code: 1, signal: null });
    expect(took).toBeGreaterThanOrEqual(1_400);
    expect(took).toBeLessThan(5_000);
    const output = app.output();
    expect(output).toContain('drainQueue started and never finishes');
    const line = output.split('\n').find((text) => text.includes('shutdown exceeded'));
    expect(line).toBeDefined();
    const record = JSON.parse(line!) as { level: number; msg: string; pendingHooks: string[] };
    expect(record.level).toBe(50);
    expect(record.pendingHooks).toStrictEqual(['stuck-plugin: drainQueue']);
    expect(record.msg).toContain('stuck-plugin: drainQueue');
    // The hooks registered before the stuck one never got their turn.
    expect(output).not.toContain('close hook ran');
  });

  it('names the server close and counts open connections when a request outlives the deadline', async () => {
    const app = await start({ SLOW_MS: '20000', SHUTDOWN_TIMEOUT_MS: '1000' });
    const stuck = get(`${app.url}/slow`).catch(() => undefined);
    await waitFor(async () => app.output().includes('slow request started'), {
      timeoutMs: 2_000,
      intervalMs: 10,
      what: 'slow request in flight',
    });
    const exit = await app.stop('SIGTERM');
    await stuck;
    expect(exit.code).toBe(1);
    const line = app
      .output()
      .split('\n')
      .find((text) => text.includes('shutdown exceeded'));
    const record = JSON.parse(line!) as { pendingHooks: string[]; openConnections: number };
    expect(record.pendingHooks).toStrictEqual([
      'fastify: server.close() (in-flight requests, open connections)',
    ]);
    expect(record.openConnections).toBe(1);
  });

  it('shuts down the same way on SIGINT', async () => {
    const app = await start({});
    const exit = await app.stop('SIGINT');
    expect(exit).toStrictEqual({ code: 0, signal: null });
    expect(app.output()).toContain('SIGINT: readiness now 503');
    expect(app.output()).toContain('close hook ran: first');
  });

  it('exits at once on a second signal', async () => {
    const app = await start({ SHUTDOWN_DELAY_MS: '8000', SHUTDOWN_TIMEOUT_MS: '20000' });
    app.child.kill('SIGTERM');
    await waitFor(async () => (await get(`${app.url}/health/ready`)).status === 503, {
      timeoutMs: 1_000,
      intervalMs: 10,
      what: 'shutdown started',
    });
    const secondAt = performance.now();
    const exit = await app.stop('SIGINT');
    expect(performance.now() - secondAt).toBeLessThan(1_000);
    expect(exit).toStrictEqual({ code: 1, signal: null });
    expect(app.output()).toContain('second SIGINT during shutdown');
  });

  it('logs an uncaught exception at fatal, then runs the same graceful sequence and exits 1', async () => {
    const app = await start({});
    await get(`${app.url}/crash`);
    const exit = await app.exited;
    expect(exit).toStrictEqual({ code: 1, signal: null });
    const output = app.output();
    const fatal = output.split('\n').find((text) => text.includes('"level":60'));
    expect(fatal).toContain('boom from /crash');
    expect(fatal).toContain('uncaught error');
    expect(output).toContain('close hook ran: first');
    expect(output).toContain('shutdown complete');
  });

  it('treats an unhandled rejection the same way', async () => {
    const app = await start({});
    await get(`${app.url}/reject`);
    const exit = await app.exited;
    expect(exit.code).toBe(1);
    expect(app.output()).toContain('rejected from /reject');
    expect(app.output()).toContain('close hook ran: first');
  });
});
