import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckRegistry } from '../../src/check-registry.js';
import { sanitizeDetails } from '../../src/sanitize.js';

const registries: CheckRegistry[] = [];
afterEach(() => {
  for (const registry of registries.splice(0)) registry.stop();
});

describe('issue 14: a check has at most one run at a time', () => {
  it('never starts a run while one that ignored its abort signal is still going, and stays failed meanwhile', async () => {
    const registry = new CheckRegistry({ defaultIntervalMs: 20, defaultTimeoutMs: 30 });
    registries.push(registry);
    let running = 0;
    let most = 0;
    let started = 0;
    let finished = 0;
    const statusesWhileLate: string[] = [];
    registry.register({
      name: 'ignores-abort',
      intervalMs: 20,
      timeoutMs: 30,
      // Like a pg query on a hung server that ignores the signal: settles (passes) long after
      // its timeout.
      check: async () => {
        running += 1;
        started += 1;
        most = Math.max(most, running);
        await sleep(150);
        running -= 1;
        finished += 1;
        return { late: true };
      },
    });
    registry.start();
    await registry.firstRuns();
    // Timed out at 30 ms; the run is still going.
    expect(running).toBe(1);
    for (let i = 0; i < 10; i += 1) {
      await sleep(10);
      if (running === 1) statusesWhileLate.push(registry.report()['ignores-abort']!.status);
    }
    await sleep(600);
    expect(most).toBe(1);
    expect(started).toBeGreaterThanOrEqual(3);
    expect(finished).toBeGreaterThanOrEqual(started - 1);
    expect(new Set(statusesWhileLate)).toStrictEqual(new Set(['fail']));
    // A late success is discarded: the check has never passed.
    expect(registry.report()['ignores-abort']!.lastSuccessAt).toBeNull();
  });
});

describe('issue 14: details are sanitised at any depth', () => {
  it('redacts secrets and connection strings ten levels down, and survives cycles', () => {
    let deep: Record<string, unknown> = {
      password: 'hunter2',
      url: 'postgres://admin:hunter2@db.internal:5432/app',
    };
    for (let i = 0; i < 10; i += 1) deep = { level: i, child: deep };
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const out = sanitizeDetails({ deep, cyclic, twice: [cyclic, cyclic] });
    const text = JSON.stringify(out);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('db.internal');
    let node = (out as { deep: Record<string, unknown> }).deep;
    for (let i = 9; i >= 0; i -= 1) {
      expect(node.level).toBe(i);
      node = node.child as Record<string, unknown>;
    }
    expect(node).toStrictEqual({ password: '[redacted]', url: 'postgres://[redacted]' });
    expect((out as { cyclic: unknown }).cyclic).toStrictEqual({ name: 'loop', self: '[circular]' });
    expect((out as { twice: unknown }).twice).toStrictEqual([
      { name: 'loop', self: '[circular]' },
      { name: 'loop', self: '[circular]' },
    ]);
  });
});
