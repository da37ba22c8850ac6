import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Breaker, type BreakerOptions, type CallOutcome } from '../src/breaker.js';
import { CountWindow, TimeWindow, tripReason } from '../src/breaker-window.js';
import { errors } from '../src/index.js';

const ok = async () => 'ok';
const fail = async () => {
  throw new Error('boom');
};
const after =
  (ms: number, value = 'late') =>
  () =>
    new Promise<string>((resolve) => setTimeout(() => resolve(value), ms));

let breakers: Breaker[] = [];
function make(options: BreakerOptions): Breaker {
  const breaker = new Breaker('test', { timeoutMs: 0, ...options });
  breakers.push(breaker);
  return breaker;
}

async function settle(promise: Promise<unknown>): Promise<unknown> {
  return promise.catch((error: unknown) => error);
}

describe('breaker window', () => {
  it('a count window keeps exactly the last N outcomes', () => {
    const window = new CountWindow(4);
    window.record(true, true);
    window.record(false, false);
    expect(window.snapshot()).toStrictEqual({ calls: 2, failures: 1, slow: 1 });
    for (let i = 0; i < 4; i++) window.record(false, false);
    expect(window.snapshot()).toStrictEqual({ calls: 4, failures: 0, slow: 0 });
    window.record(true, false);
    expect(window.snapshot()).toStrictEqual({ calls: 4, failures: 1, slow: 0 });
    window.reset();
    expect(window.snapshot()).toStrictEqual({ calls: 0, failures: 0, slow: 0 });
  });

  it('a time window expires its buckets one by one', () => {
    let now = 0;
    const window = new TimeWindow(1000, 10, () => now);
    window.record(true, false);
    now = 500;
    window.record(false, true);
    expect(window.snapshot()).toStrictEqual({ calls: 2, failures: 1, slow: 1 });
    now = 1000;
    expect(window.snapshot()).toStrictEqual({ calls: 1, failures: 0, slow: 1 });
    now = 1500;
    expect(window.snapshot()).toStrictEqual({ calls: 0, failures: 0, slow: 0 });
    now = 99_999;
    window.record(true, true);
    expect(window.snapshot()).toStrictEqual({ calls: 1, failures: 1, slow: 1 });
  });

  it('trips on failure rate or slow-call rate only past the minimum volume', () => {
    const thresholds = { minimumCalls: 4, failureRateThreshold: 50, slowCallRateThreshold: 75 };
    expect(tripReason({ calls: 3, failures: 3, slow: 3 }, thresholds)).toBeUndefined();
    expect(tripReason({ calls: 4, failures: 1, slow: 2 }, thresholds)).toBeUndefined();
    expect(tripReason({ calls: 4, failures: 2, slow: 0 }, thresholds)).toBe('failure-rate');
    expect(tripReason({ calls: 4, failures: 0, slow: 3 }, thresholds)).toBe('slow-call-rate');
  });
});

describe('circuit breaker state machine', () => {
  beforeEach(() => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
    });
  });
  afterEach(() => {
    for (const breaker of breakers) breaker.shutdown();
    breakers = [];
    vi.useRealTimers();
  });

  it('count window: trips at the failure rate once the minimum volume is reached', async () => {
    const breaker = make({
      windowType: 'count',
      windowSize: 4,
      minimumCalls: 4,
      failureRateThreshold: 50,
    });
    await breaker.fire(ok);
    await breaker.fire(ok);
    await settle(breaker.fire(fail));
    expect(breaker.state).toBe('closed');
    await settle(breaker.fire(fail));
    expect(breaker.state).toBe('open');
    expect(breaker.lastTripReason).toBe('failure-rate');
    const rejected = await settle(breaker.fire(ok));
    expect(rejected).toBeInstanceOf(errors.BreakerOpenError);
    expect(rejected).toMatchObject({
      statusCode: 503,
      code: 'BULWARK_RESILIENCE_BREAKER_OPEN',
      headers: { 'retry-after': '30' },
    });
  });

  it('count window: old failures fall out of the window', async () => {
    const breaker = make({
      windowType: 'count',
      windowSize: 4,
      minimumCalls: 4,
      failureRateThreshold: 50,
    });
    await settle(breaker.fire(fail));
    for (let i = 0; i < 4; i++) await breaker.fire(ok);
    expect(breaker.snapshot()).toMatchObject({ calls: 4, failures: 0 });
    await settle(breaker.fire(fail));
    expect(breaker.state).toBe('closed');
    expect(breaker.snapshot().failureRate).toBe(25);
  });

  it('rate window: only failures within windowMs count', async () => {
    const breaker = make({
      windowType: 'time',
      windowMs: 1000,
      minimumCalls: 3,
      failureRateThreshold: 100,
    });
    await settle(breaker.fire(fail));
    await settle(breaker.fire(fail));
    vi.advanceTimersByTime(1000);
    await settle(breaker.fire(fail));
    expect(breaker.state).toBe('closed');
    expect(breaker.snapshot().calls).toBe(1);
    await settle(breaker.fire(fail));
    await settle(breaker.fire(fail));
    expect(breaker.state).toBe('open');
  });

  it('trips on slowness alone, with every call succeeding', async () => {
    const breaker = make({
      windowType: 'count',
      windowSize: 10,
      minimumCalls: 4,
      slowCallDurationMs: 100,
      slowCallRateThreshold: 50,
    });
    const outcomes: CallOutcome[] = [];
    breaker.on('call', (outcome) => outcomes.push(outcome));
    await breaker.fire(ok);
    await breaker.fire(ok);
    const slow = [breaker.fire(after(150)), breaker.fire(after(150))];
    await vi.advanceTimersByTimeAsync(150);
    await expect(Promise.all(slow)).resolves.toStrictEqual(['late', 'late']);
    expect(breaker.state).toBe('open');
    expect(breaker.lastTripReason).toBe('slow-call-rate');
    expect(outcomes).toStrictEqual(['success', 'success', 'slow', 'slow']);
  });

  it('counts a call past timeoutMs as a failure with outcome timeout, and aborts its signal', async () => {
    const breaker = make({
      windowType: 'count',
      minimumCalls: 1,
      failureRateThreshold: 100,
      timeoutMs: 50,
    });
    const outcomes: CallOutcome[] = [];
    breaker.on('call', (outcome) => outcomes.push(outcome));
    let signal: AbortSignal | undefined;
    const call = settle(
      breaker.fire((s) => {
        signal = s;
        return new Promise(() => undefined);
      }),
    );
    await vi.advanceTimersByTimeAsync(50);
    expect(await call).toBeInstanceOf(errors.TimeoutError);
    expect(signal?.aborted).toBe(true);
    expect(outcomes).toStrictEqual(['timeout']);
    expect(breaker.state).toBe('open');
  });

  it('trips on consecutive timeouts even while the window is full of earlier successes', async () => {
    const breaker = make({
      windowType: 'count',
      windowSize: 100,
      timeoutMs: 50,
      consecutiveTimeouts: 3,
    });
    for (let i = 0; i < 50; i++) await breaker.fire(ok);
    const hang = () => new Promise<never>(() => undefined);
    // a success between timeouts starts the count again
    const first = [settle(breaker.fire(hang)), settle(breaker.fire(hang))];
    await vi.advanceTimersByTimeAsync(50);
    await Promise.all(first);
    await breaker.fire(ok);
    const second = [settle(breaker.fire(hang)), settle(breaker.fire(hang))];
    await vi.advanceTimersByTimeAsync(50);
    await Promise.all(second);
    expect(breaker.state).toBe('closed');
    expect(breaker.snapshot().failureRate).toBeLessThan(10);
    const third = settle(breaker.fire(hang));
    await vi.advanceTimersByTimeAsync(50);
    expect(await third).toBeInstanceOf(errors.TimeoutError);
    expect(breaker.state).toBe('open');
    expect(breaker.lastTripReason).toBe('consecutive-timeouts');
  });

  it('does not count errors isFailure rejects (e.g. 4xx)', async () => {
    const breaker = make({ windowType: 'count', minimumCalls: 1, failureRateThreshold: 1 });
    const clientError = Object.assign(new Error('bad request'), { statusCode: 400 });
    await expect(breaker.fire(async () => Promise.reject(clientError))).rejects.toBe(clientError);
    expect(breaker.state).toBe('closed');
    expect(breaker.snapshot()).toMatchObject({ calls: 0, failures: 0 });
  });

  it('ignored errors do not dilute the failure rate of an outage', async () => {
    const breaker = make({
      windowType: 'count',
      windowSize: 10,
      minimumCalls: 4,
      failureRateThreshold: 100,
    });
    const busy = Object.assign(new Error('pool busy'), { statusCode: 429 });
    const outcomes: CallOutcome[] = [];
    breaker.on('call', (outcome) => outcomes.push(outcome));
    for (let i = 0; i < 3; i++) {
      await settle(breaker.fire(async () => Promise.reject(busy)));
      await settle(breaker.fire(fail));
    }
    expect(breaker.state).toBe('closed');
    await settle(breaker.fire(fail));
    expect(breaker.state).toBe('open');
    expect(outcomes.filter((o) => o === 'ignored')).toHaveLength(3);
  });

  it('an ignored error in half-open frees its trial slot without deciding', async () => {
    const breaker = make({
      windowType: 'count',
      minimumCalls: 1,
      resetTimeoutMs: 1000,
      halfOpenTrials: 1,
    });
    const busy = Object.assign(new Error('pool busy'), { statusCode: 429 });
    await settle(breaker.fire(fail));
    vi.advanceTimersByTime(1000);
    expect(breaker.state).toBe('half-open');
    await settle(breaker.fire(async () => Promise.reject(busy)));
    expect(breaker.state).toBe('half-open');
    await settle(breaker.fire(fail));
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(1000);
    await settle(breaker.fire(async () => Promise.reject(busy)));
    await breaker.fire(ok);
    expect(breaker.state).toBe('closed');
  });

  it('Retry-After counts down to half-open, then half-open trials decide', async () => {
    const states: string[] = [];
    const breaker = make({
      windowType: 'count',
      minimumCalls: 1,
      resetTimeoutMs: 30_000,
      halfOpenTrials: 3,
    });
    breaker.on('state', (state) => states.push(state));
    await settle(breaker.fire(fail));
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(10_500);
    expect(await settle(breaker.fire(ok))).toMatchObject({ headers: { 'retry-after': '20' } });
    vi.advanceTimersByTime(19_500);
    expect(breaker.state).toBe('half-open');

    // The first trial runs alone; a concurrent call is rejected.
    const first = breaker.fire(after(10, 'trial-1'));
    expect(await settle(breaker.fire(ok))).toBeInstanceOf(errors.BreakerOpenError);
    await vi.advanceTimersByTimeAsync(10);
    await expect(first).resolves.toBe('trial-1');
    expect(breaker.state).toBe('half-open');

    // Two more trial slots; a third concurrent call is rejected with Retry-After 1.
    const rest = [breaker.fire(after(10, 'trial-2')), breaker.fire(after(10, 'trial-3'))];
    expect(await settle(breaker.fire(ok))).toMatchObject({ headers: { 'retry-after': '1' } });
    await vi.advanceTimersByTimeAsync(10);
    await expect(Promise.all(rest)).resolves.toStrictEqual(['trial-2', 'trial-3']);
    expect(breaker.state).toBe('closed');
    expect(breaker.snapshot().calls).toBe(0);
    await expect(breaker.fire(ok)).resolves.toBe('ok');
    expect(states).toStrictEqual(['open', 'half-open', 'closed']);
  });

  it('a failed trial reopens for a full resetTimeoutMs', async () => {
    const breaker = make({
      windowType: 'count',
      minimumCalls: 1,
      resetTimeoutMs: 1000,
      halfOpenTrials: 2,
    });
    await settle(breaker.fire(fail));
    vi.advanceTimersByTime(1000);
    expect(breaker.state).toBe('half-open');
    await breaker.fire(ok);
    expect(breaker.state).toBe('half-open');
    await settle(breaker.fire(fail));
    expect(breaker.state).toBe('open');
    expect(breaker.lastTripReason).toBe('half-open-trial');
    expect(breaker.msUntilHalfOpen).toBe(1000);
    vi.advanceTimersByTime(1000);
    expect(breaker.state).toBe('half-open');
    await settle(breaker.fire(fail));
    expect(breaker.state).toBe('open');
  });

  it('a slow trial reopens even though it succeeded', async () => {
    const breaker = make({
      windowType: 'count',
      minimumCalls: 1,
      resetTimeoutMs: 1000,
      halfOpenTrials: 1,
      slowCallDurationMs: 100,
    });
    await settle(breaker.fire(fail));
    vi.advanceTimersByTime(1000);
    const trial = breaker.fire(after(200));
    await vi.advanceTimersByTimeAsync(200);
    await trial;
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(1000);
    await breaker.fire(ok);
    expect(breaker.state).toBe('closed');
  });

  it('can be opened and closed by hand', async () => {
    const breaker = make({});
    breaker.open();
    expect(breaker.state).toBe('open');
    expect(breaker.lastTripReason).toBe('manual');
    breaker.close();
    expect(breaker.state).toBe('closed');
    await expect(breaker.fire(ok)).resolves.toBe('ok');
  });

  it('rejects impossible options, naming them', () => {
    expect(() => new Breaker('x', { failureRateThreshold: 150 })).toThrow(/failureRateThreshold/);
    expect(() => new Breaker('x', { windowSize: 0 })).toThrow(/windowSize/);
    expect(() => new Breaker('x', { windowType: 'sliding' as 'time' })).toThrow(/windowType/);
  });
});
