import type { Queue } from 'bullmq';
import type { QueueMetrics } from './telemetry.js';

/** What the sampler reads of each defined queue. */
export interface SampledQueue {
  name: string;
  queue: Queue | undefined;
  dead: Queue | undefined;
}

export interface DepthSampler {
  stop(): void;
}

/**
 * Samples `queue_depth` for every queue now and every `intervalMs` on an unref'd timer, so a
 * metrics scrape only reads gauges and never runs Redis commands. A sample still running when
 * the next is due is not doubled; a failed sample (Redis down) keeps the last values.
 */
export function startDepthSampler(
  queues: () => SampledQueue[],
  metrics: QueueMetrics,
  intervalMs: number,
  logError: (source: string, error: Error) => void,
): DepthSampler {
  let sampling = false;
  let stopped = false;
  async function sample(): Promise<void> {
    if (sampling || stopped) return;
    sampling = true;
    try {
      for (const { queue, dead, name } of queues()) {
        if (!queue || !dead) continue;
        const [counts, deadCount] = await Promise.all([
          queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed'),
          dead.getWaitingCount(),
        ]);
        metrics.depth(name, 'waiting', (counts.waiting ?? 0) + (counts.prioritized ?? 0));
        metrics.depth(name, 'active', counts.active ?? 0);
        metrics.depth(name, 'delayed', counts.delayed ?? 0);
        metrics.depth(name, 'failed', counts.failed ?? 0);
        metrics.depth(name, 'dead', deadCount);
      }
    } catch (error) {
      logError('depth sampler', error as Error);
    } finally {
      sampling = false;
    }
  }
  void sample();
  const timer = setInterval(() => void sample(), intervalMs);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
