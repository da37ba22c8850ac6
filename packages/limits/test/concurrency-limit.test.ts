import { describe, expect, it } from 'vitest';
import { AdaptiveConcurrencyLimit } from '../src/concurrency-limit.js';

function feed(
  limit: AdaptiveConcurrencyLimit,
  windows: number,
  latencyMs: (w: number) => number,
  inFlight: (l: number) => number,
  start = 0,
) {
  let now = start;
  for (let w = 0; w < windows; w += 1) {
    for (let i = 0; i < 10; i += 1) {
      now += 12;
      limit.addSample(latencyMs(w), inFlight(limit.limit), now);
    }
  }
  return now;
}

describe('AdaptiveConcurrencyLimit', () => {
  const options = { initialLimit: 10, minLimit: 1, maxLimit: 200, tolerance: 2 };

  it('rises while latency stays at its baseline and the limit is in use', () => {
    const limit = new AdaptiveConcurrencyLimit(options);
    feed(
      limit,
      20,
      () => 10,
      (l) => l,
    );
    expect(limit.limit).toBeGreaterThan(50);
    expect(limit.baseline).toBeCloseTo(10, 0);
  });

  it('does not rise when the limit is not what holds concurrency back', () => {
    const limit = new AdaptiveConcurrencyLimit(options);
    feed(
      limit,
      20,
      () => 10,
      () => 2,
    );
    expect(limit.limit).toBe(10);
  });

  it('falls when latency grows past tolerance × baseline, by the latency gradient (at most halving)', () => {
    const limit = new AdaptiveConcurrencyLimit({ ...options, initialLimit: 100 });
    const now = feed(
      limit,
      1,
      () => 10,
      (l) => l,
    );
    const before = limit.limit;
    feed(
      limit,
      1,
      () => 40,
      (l) => l,
      now,
    );
    // ceiling 2 × 10 = 20 ms against 40 ms → gradient 0.5
    expect(limit.limit).toBe(Math.floor(before * 0.5));
  });

  it('converges where latency holds at tolerance × baseline, when latency grows with concurrency', () => {
    // Node running 1 ms of CPU per request, overloaded from the start: the k-th request admitted
    // in an event-loop batch waited k - 1 ms behind the others, then took 1 ms itself.
    const limit = new AdaptiveConcurrencyLimit({ ...options, initialLimit: 100 });
    let now = 0;
    const seen: number[] = [];
    for (let batch = 0; batch < 300; batch += 1) {
      const admitted = limit.limit;
      for (let k = 1; k <= admitted; k += 1) {
        now += 1;
        limit.addSample(k, admitted, now, 1);
      }
      seen.push(limit.limit);
    }
    // Latency may reach tolerance (2) × the 1 ms service time: about 3 in line, never 100.
    expect(Math.max(...seen.slice(-100))).toBeLessThanOrEqual(6);
    expect(Math.min(...seen.slice(-100))).toBeGreaterThanOrEqual(1);
  });

  it('settles instead of swinging when a few slow requests fill each batch', () => {
    // 1 ms of CPU per request again, with the default 3 ms floor: √limit steps alone overshoot
    // (5 → 7 → 5 …); capped by the latency headroom, the limit settles where the batch's average
    // latency meets the floor: (1 + 2 + … + 5) / 5 = 3 ms.
    const limit = new AdaptiveConcurrencyLimit({
      ...options,
      initialLimit: 100,
      latencyFloorMs: 3,
    });
    let now = 0;
    const seen: number[] = [];
    for (let batch = 0; batch < 300; batch += 1) {
      const admitted = limit.limit;
      for (let k = 1; k <= admitted; k += 1) {
        now += 1;
        limit.addSample(k, admitted, now, 1);
      }
      seen.push(limit.limit);
    }
    expect(new Set(seen.slice(-100))).toStrictEqual(new Set([5]));
  });

  it('grows by √limit, but no further than limit × ceiling / average', () => {
    const limit = new AdaptiveConcurrencyLimit({ ...options, initialLimit: 100, baselineDrift: 0 });
    // Baseline 10 ms, far from the 20 ms ceiling: a full √100 step.
    const now = feed(
      limit,
      1,
      () => 10,
      (l) => l,
    );
    expect(limit.limit).toBe(110);
    // 19 ms against a 20 ms ceiling: √110 ≈ 10.5 would overshoot; 110 × 20 / 19 ≈ 115.8 is the cap.
    feed(
      limit,
      1,
      () => 19,
      (l) => l,
      now,
    );
    expect(limit.limit).toBe(115);
  });

  it('ignores latency under latencyFloorMs however small the baseline', () => {
    const limit = new AdaptiveConcurrencyLimit({ ...options, latencyFloorMs: 2 });
    const now = feed(
      limit,
      1,
      () => 0.05,
      (l) => l,
    );
    const before = limit.limit;
    feed(
      limit,
      3,
      () => 1.5,
      (l) => l,
      now,
    );
    expect(limit.limit).toBeGreaterThan(before);
  });

  it('stays within minLimit and maxLimit', () => {
    const high = new AdaptiveConcurrencyLimit({ ...options, maxLimit: 12 });
    feed(
      high,
      50,
      () => 10,
      (l) => l,
    );
    expect(high.limit).toBe(12);
    const low = new AdaptiveConcurrencyLimit({ ...options, minLimit: 3 });
    const now = feed(
      low,
      1,
      () => 1,
      (l) => l,
    );
    feed(
      low,
      50,
      () => 1000,
      (l) => l,
      now,
    );
    expect(low.limit).toBe(3);
  });

  it('needs minSamples and windowMs before it decides', () => {
    const limit = new AdaptiveConcurrencyLimit({ ...options, minSamples: 5, windowMs: 100 });
    expect(limit.addSample(1, 10, 0)).toBe(false);
    for (let i = 1; i < 4; i += 1) expect(limit.addSample(1, 10, 200)).toBe(false);
    expect(limit.addSample(1, 10, 200)).toBe(true);
  });
});
