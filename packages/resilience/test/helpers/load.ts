// Concurrent HTTP load from the test process against a real listening app.

export interface Sample {
  startedAt: number;
  latencyMs: number;
  status: number;
  retryAfter: string | null;
  code: string | undefined;
  error?: string;
}

/** Runs `concurrency` loops of GET `url` until `stop()` says so; every answer is recorded. */
export async function load(
  url: string,
  concurrency: number,
  stop: () => boolean,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  async function loop(): Promise<void> {
    while (!stop()) {
      const startedAt = performance.now();
      try {
        const response = await fetch(url);
        const body = (await response.json().catch(() => ({}))) as { code?: string };
        samples.push({
          startedAt,
          latencyMs: performance.now() - startedAt,
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          code: body.code,
        });
      } catch (error) {
        samples.push({
          startedAt,
          latencyMs: performance.now() - startedAt,
          status: 0,
          retryAfter: null,
          code: undefined,
          error: (error as Error).message,
        });
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, loop));
  return samples;
}

/** The p-th percentile (0–100) of the values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
