import { expect } from 'vitest';
import type { Sample } from './load.js';

// Generous bound for "answered within storeTimeoutMs + a few ms": wall-clock assertions on a
// shared 2-core machine are noisy, so this only proves nobody waits on Redis for seconds (the
// official stack's failure mode); the deadline itself is a 50 ms timer in BoundedStore.
export const LATENCY_BOUND_MS = 1000;

/** Every request of a load run answered 200 or 429, none slower than the bound; prints a summary. */
export function expectAllAnswered(samples: Sample[], label: string): void {
  const latencies = samples.map((sample) => sample.ms).sort((a, b) => a - b);
  const p99 = latencies[Math.ceil(latencies.length * 0.99) - 1] ?? Number.NaN;
  console.info(
    `${label}: ${samples.length} answers, ${samples.filter((sample) => sample.status === 429).length} × 429, p99 ${p99.toFixed(1)} ms, max ${latencies.at(-1)?.toFixed(1)} ms`,
  );
  expect(samples.length).toBeGreaterThan(20);
  expect(samples.filter((sample) => sample.status !== 200 && sample.status !== 429)).toStrictEqual(
    [],
  );
  expect(latencies.at(-1)!).toBeLessThan(LATENCY_BOUND_MS);
}
