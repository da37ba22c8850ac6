import { getHeapStatistics } from 'node:v8';
import type { FastifyBaseLogger } from 'fastify';

const SAMPLES = 10;

/** One heap sample: bytes used at a time (ms). */
interface Sample {
  at: number;
  used: number;
}

/**
 * Growth trend of heap use over the kept samples, in bytes per minute (least squares slope), or 0
 * with fewer than two samples.
 */
export function trendBytesPerMinute(samples: readonly Sample[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  let sumX = 0;
  let sumY = 0;
  for (const sample of samples) {
    sumX += sample.at;
    sumY += sample.used;
  }
  const meanX = sumX / n;
  const meanY = sumY / n;
  let numerator = 0;
  let denominator = 0;
  for (const sample of samples) {
    numerator += (sample.at - meanX) * (sample.used - meanY);
    denominator += (sample.at - meanX) ** 2;
  }
  return denominator === 0 ? 0 : Math.round((numerator / denominator) * 60_000);
}

/** Samples heap use on an unref'd timer and warns, with the trend, while it is above the threshold. */
export class MemoryWatch {
  readonly #samples: Sample[] = [];
  readonly #log: FastifyBaseLogger;
  readonly #threshold: number;
  readonly #limit = getHeapStatistics().heap_size_limit;
  #timer: NodeJS.Timeout | undefined;

  constructor(log: FastifyBaseLogger, threshold: number) {
    this.#log = log;
    this.#threshold = threshold;
  }

  start(intervalMs: number): void {
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  sample(): void {
    const used = process.memoryUsage().heapUsed;
    this.#samples.push({ at: Date.now(), used });
    if (this.#samples.length > SAMPLES) this.#samples.shift();
    const ratio = used / this.#limit;
    if (ratio >= this.#threshold) {
      this.#log.warn(
        {
          heapUsedBytes: used,
          heapLimitBytes: this.#limit,
          heapUsedRatio: Math.round(ratio * 1000) / 1000,
          threshold: this.#threshold,
          trendBytesPerMinute: trendBytesPerMinute(this.#samples),
        },
        'heap use above threshold',
      );
    }
  }
}
