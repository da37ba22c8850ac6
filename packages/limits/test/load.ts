import { performance } from 'node:perf_hooks';

export interface Sample {
  /** ms since the load started */
  at: number;
  /** HTTP status, or 0 when the request failed without a response */
  status: number;
  /** latency in ms */
  ms: number;
}

export interface SteadyLoad {
  readonly samples: Sample[];
  /** Samples taken from `from` ms (since start) on. */
  since(from: number): Sample[];
  elapsed(): number;
  stop(): Promise<Sample[]>;
}

/** Keeps `concurrency` requests in flight against `url` until stopped, recording every answer. */
export function steadyLoad(url: string, concurrency = 4): SteadyLoad {
  const samples: Sample[] = [];
  const started = performance.now();
  let running = true;
  async function worker(): Promise<void> {
    while (running) {
      const t0 = performance.now();
      let status = 0;
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
        await response.arrayBuffer();
        status = response.status;
      } catch {
        status = 0;
      }
      const t1 = performance.now();
      samples.push({ at: t0 - started, status, ms: t1 - t0 });
    }
  }
  const workers = Array.from({ length: concurrency }, () => worker());
  return {
    samples,
    since: (from) => samples.filter((sample) => sample.at >= from),
    elapsed: () => performance.now() - started,
    async stop() {
      running = false;
      await Promise.all(workers);
      return samples;
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
