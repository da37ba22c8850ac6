import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Bulkhead } from '../src/bulkhead.js';
import { errors } from '../src/index.js';
import { timeout } from '../src/timeout.js';

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('timeout', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('aborts the signal and rejects with a 503 TimeoutError at the deadline', async () => {
    let seen: AbortSignal | undefined;
    const result = timeout(
      (signal) => {
        seen = signal;
        return new Promise(() => undefined);
      },
      { ms: 250 },
    );
    const assertion = expect(result).rejects.toMatchObject({
      code: 'BULWARK_RESILIENCE_TIMEOUT',
      statusCode: 503,
      headers: { 'retry-after': '1' },
    });
    await vi.advanceTimersByTimeAsync(250);
    await assertion;
    expect(seen?.aborted).toBe(true);
  });

  it('returns the value of a call that finishes in time', async () => {
    await expect(timeout(async () => 42, { ms: 100 })).resolves.toBe(42);
  });

  it('follows a caller signal', async () => {
    const controller = new AbortController();
    const result = timeout(() => new Promise(() => undefined), {
      ms: 1000,
      signal: controller.signal,
    });
    controller.abort(new Error('caller'));
    await expect(result).rejects.toThrow('caller');
  });

  it('rejects a non-positive deadline', async () => {
    await expect(timeout(async () => 1, { ms: 0 })).rejects.toThrow(RangeError);
  });
});

describe('bulkhead', () => {
  it('runs up to maxConcurrent, queues up to maxQueue and rejects overflow at once with 503', async () => {
    const changes: Array<[number, number]> = [];
    const rejected = vi.fn();
    const bulkhead = new Bulkhead(
      { maxConcurrent: 2, maxQueue: 1 },
      {
        onChange: (inUse, queued) => changes.push([inUse, queued]),
        onReject: rejected,
      },
    );
    const gates = [deferred(), deferred(), deferred()];
    const order: number[] = [];
    const runs = gates.map((gate, index) =>
      bulkhead.run(async () => {
        order.push(index);
        await gate.promise;
        return index;
      }),
    );
    await Promise.resolve();
    expect(bulkhead.inUse).toBe(2);
    expect(bulkhead.queued).toBe(1);
    const overflow = bulkhead.run(async () => 'never');
    await expect(overflow).rejects.toBeInstanceOf(errors.BulkheadFullError);
    await expect(overflow).rejects.toMatchObject({
      statusCode: 503,
      headers: { 'retry-after': '1' },
    });
    expect(rejected).toHaveBeenCalledTimes(1);
    gates[0]!.resolve();
    await runs[0];
    await new Promise((r) => setImmediate(r));
    expect(order).toStrictEqual([0, 1, 2]);
    expect(bulkhead.inUse).toBe(2);
    expect(bulkhead.queued).toBe(0);
    gates[1]!.resolve();
    gates[2]!.resolve();
    await expect(Promise.all(runs)).resolves.toStrictEqual([0, 1, 2]);
    expect(bulkhead.inUse).toBe(0);
    expect(changes.at(-1)).toStrictEqual([0, 0]);
  });

  it('rejects a queued call after queueTimeoutMs and frees its place', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 100 });
      const gate = deferred();
      const first = bulkhead.run(() => gate.promise);
      const waiting = bulkhead.run(async () => 'late');
      const assertion = expect(waiting).rejects.toBeInstanceOf(errors.BulkheadFullError);
      await vi.advanceTimersByTimeAsync(100);
      await assertion;
      expect(bulkhead.queued).toBe(0);
      gate.resolve();
      await first;
      expect(bulkhead.inUse).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('removes an aborted waiter from the queue', async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 5 });
    const gate = deferred();
    const first = bulkhead.run(() => gate.promise);
    const controller = new AbortController();
    const waiting = bulkhead.run(async () => 'never', controller.signal);
    await Promise.resolve();
    expect(bulkhead.queued).toBe(1);
    controller.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    expect(bulkhead.queued).toBe(0);
    gate.resolve();
    await first;
    expect(bulkhead.inUse).toBe(0);
  });

  it('releases the slot when the call throws', async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1 });
    await expect(bulkhead.run(async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(bulkhead.inUse).toBe(0);
    expect(() => new Bulkhead({ maxConcurrent: 0 })).toThrow(RangeError);
  });
});
