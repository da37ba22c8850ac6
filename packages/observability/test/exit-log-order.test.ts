import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packageRoot = fileURLToPath(new URL('..', import.meta.url));

describe('log lines at process exit', () => {
  it('reach stdout whole and in the order they were logged, even when the reader is slow', async () => {
    const child = spawn(process.execPath, ['test/fixtures/exit-log-order.mjs'], {
      cwd: packageRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Not reading for a while keeps the pipe full while the child logs and exits: with an
    // asynchronous stdout stream the first line is still being written at exit, and the lines
    // after it come out first (or it is cut short).
    child.stdout.pause();
    await sleep(500);
    child.stdout.resume();
    expect(await closed).toBe(0);
    const lines = Buffer.concat(chunks).toString().split('\n').filter(Boolean);
    const messages = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(messages).toStrictEqual(['line 1', 'line 2', 'line 3', 'line 4', 'line 5']);
  });
});
