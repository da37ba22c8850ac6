import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckRegistry, type CheckRegistryOptions } from '../src/check-registry.js';
import { errors } from '../src/index.js';

const registries: CheckRegistry[] = [];
function createRegistry(options: Partial<CheckRegistryOptions> = {}): CheckRegistry {
  const registry = new CheckRegistry({
    defaultIntervalMs: 1_000,
    defaultTimeoutMs: 200,
    ...options,
  });
  registries.push(registry);
  return registry;
}

afterEach(() => {
  for (const registry of registries.splice(0)) registry.stop();
});

describe('check registry', () => {
  it('fails a check that never settles at its timeout and aborts its signal', async () => {
    let seen: AbortSignal | undefined;
    const registry = createRegistry();
    registry.register({
      name: 'hangs',
      timeoutMs: 100,
      check: (signal) => {
        seen = signal;
        return new Promise(() => undefined);
      },
    });
    registry.start();
    const started = performance.now();
    await registry.firstRuns();
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(95);
    expect(waited).toBeLessThan(1_000);
    expect(seen?.aborted).toBe(true);
    expect((seen?.reason as DOMException).name).toBe('TimeoutError');
    const report = registry.report().hangs!;
    expect(report.status).toBe('fail');
    expect(report.lastError).toBe('check timed out after 100 ms');
    expect(registry.summary()).toStrictEqual({
      status: 'unhealthy',
      criticalFailing: ['hangs'],
      nonCriticalFailing: [],
      criticalNeverPassed: ['hangs'],
    });
  });

  it('runs checks in parallel, so a slow one does not delay the others', async () => {
    const registry = createRegistry();
    const finished: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      registry.register({
        name,
        timeoutMs: 500,
        check: async () => {
          await sleep(150);
          finished.push(name);
        },
      });
    }
    registry.start();
    const started = performance.now();
    await registry.firstRuns();
    // Serially this would take 450 ms.
    expect(performance.now() - started).toBeLessThan(400);
    expect(finished.sort()).toStrictEqual(['a', 'b', 'c']);
  });

  it('is healthy when all pass, degraded when only non-critical fail, unhealthy when a critical fails', async () => {
    let criticalFails = false;
    let optionalFails = false;
    const registry = createRegistry({ defaultIntervalMs: 30, defaultTimeoutMs: 30 });
    registry.register({
      name: 'db',
      check: async () => {
        if (criticalFails) throw new Error('db down');
      },
    });
    registry.register({
      name: 'cache',
      critical: false,
      check: async () => {
        if (optionalFails) throw new Error('cache down');
      },
    });
    registry.start();
    await registry.firstRuns();
    expect(registry.summary().status).toBe('healthy');

    optionalFails = true;
    await expect.poll(() => registry.summary().status).toBe('degraded');
    expect(registry.summary().nonCriticalFailing).toStrictEqual(['cache']);

    criticalFails = true;
    await expect.poll(() => registry.summary().status).toBe('unhealthy');
    expect(registry.summary().criticalFailing).toStrictEqual(['db']);

    criticalFails = false;
    optionalFails = false;
    await expect.poll(() => registry.summary().status).toBe('healthy');
    expect(registry.report().db!.consecutiveFailures).toBe(0);
  });

  it('answers the summary from cache until a result changes', async () => {
    const registry = createRegistry();
    registry.register({ name: 'ok', check: async () => ({ connections: 3 }) });
    registry.start();
    await registry.firstRuns();
    const first = registry.summary();
    expect(registry.summary()).toBe(first);
    expect(registry.firstRuns()).toBeUndefined();
    expect(registry.report().ok!.details).toStrictEqual({ connections: 3 });
  });

  it('treats a synchronous throw and a synchronous value like a rejection and a resolution', async () => {
    const registry = createRegistry();
    registry.register({
      name: 'throws',
      check: () => {
        throw new Error('sync boom');
      },
    });
    registry.register({ name: 'value', check: () => 42 });
    registry.start();
    await registry.firstRuns();
    expect(registry.report().throws!.lastError).toBe('sync boom');
    expect(registry.report().value!.status).toBe('pass');
  });

  it('starts a check registered after start at once', async () => {
    const registry = createRegistry();
    registry.start();
    registry.register({ name: 'late', check: async () => undefined });
    await registry.firstRuns();
    expect(registry.report().late!.status).toBe('pass');
  });

  it('clears its timers and aborts runs in flight on stop, releasing waiting probes', async () => {
    let signal: AbortSignal | undefined;
    const registry = createRegistry();
    registry.register({
      name: 'slow',
      timeoutMs: 5_000,
      intervalMs: 10_000,
      check: (s) => {
        signal = s;
        return new Promise(() => undefined);
      },
    });
    registry.start();
    const waiting = registry.firstRuns();
    registry.stop();
    await waiting;
    expect(signal?.aborted).toBe(true);
    expect((signal?.reason as DOMException).name).toBe('AbortError');
  });

  it("keeps its timers unref'd and runs nothing after stop", async () => {
    // Only ref'd timers are listed: the registry's must never hold the process open.
    const refTimers = () =>
      process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const before = refTimers();
    let calls = 0;
    const registry = createRegistry({ defaultIntervalMs: 20, defaultTimeoutMs: 20 });
    registry.register({
      name: 'a',
      check: async () => {
        calls += 1;
      },
    });
    registry.start();
    await expect.poll(() => calls).toBeGreaterThan(2);
    expect(refTimers()).toBe(before);
    registry.stop();
    const stoppedAt = calls;
    await sleep(100);
    expect(calls).toBe(stoppedAt);
    // A check registered after stop never runs and never makes a probe wait.
    registry.register({ name: 'late', check: async () => undefined });
    expect(registry.firstRuns()).toBeUndefined();
  });

  it('rejects invalid and duplicate checks with stable codes', () => {
    const registry = createRegistry();
    registry.register({ name: 'one', check: async () => undefined });
    expect(() => registry.register({ name: 'one', check: async () => undefined })).toThrow(
      errors.DuplicateCheckError,
    );
    expect(() => registry.register({ name: '', check: async () => undefined })).toThrow(
      errors.InvalidCheckError,
    );
    expect(() =>
      registry.register({ name: 'x', check: 'nope' as unknown as () => Promise<void> }),
    ).toThrow(/check\(signal\) function/);
    expect(() => registry.register({ name: 'x', check: async () => 1, timeoutMs: 0 })).toThrow(
      /timeoutMs must be an integer ≥ 1, got 0/,
    );
    expect(() => registry.register({ name: 'x', check: async () => 1, intervalMs: 1.5 })).toThrow(
      /intervalMs/,
    );
    expect(() =>
      registry.register({ name: 'x', check: async () => 1, critical: 'yes' as unknown as boolean }),
    ).toThrow(/critical must be a boolean/);
    expect(() =>
      registry.register({ name: 'x', check: async () => 1, tags: [1] as unknown as string[] }),
    ).toThrow(/tags/);
    expect(() => registry.register(null as unknown as { name: string; check: () => void })).toThrow(
      errors.InvalidCheckError,
    );
  });
});
