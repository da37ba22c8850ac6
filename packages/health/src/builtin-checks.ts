// The opt-in process checks: event loop delay, heap, RSS and free disk space. Each is a plain
// HealthCheck, registered like any other, so it shows up in probes, the detailed view and metrics.
import { statfs } from 'node:fs/promises';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { HealthCheck } from './check-registry.js';
import type { ResolvedHealthOptions } from './options.js';

const MB = 1024 * 1024;
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/** What the built-in checks need released on close. */
export interface BuiltinChecks {
  checks: HealthCheck[];
  close(): void;
}

function common(config: { critical: boolean; intervalMs?: number; timeoutMs?: number }) {
  return {
    critical: config.critical,
    ...(config.intervalMs === undefined ? {} : { intervalMs: config.intervalMs }),
    ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }),
    tags: ['process'],
  };
}

/** Builds the checks the options turned on. */
export function builtinChecks(options: ResolvedHealthOptions['checks']): BuiltinChecks {
  const checks: HealthCheck[] = [];
  let histogram: IntervalHistogram | undefined;

  if (options.eventLoopDelay) {
    const { maxDelayMs } = options.eventLoopDelay;
    const monitor = monitorEventLoopDelay({ resolution: 10 });
    monitor.enable();
    histogram = monitor;
    checks.push({
      name: 'event-loop-delay',
      ...common(options.eventLoopDelay),
      async check() {
        // Percentiles since the previous run, so one old stall does not fail every later run.
        const p99Ms = round(monitor.percentile(99) / 1e6);
        const maxMs = round(monitor.max / 1e6);
        monitor.reset();
        if (p99Ms > maxDelayMs) {
          throw new Error(`event loop delay p99 ${p99Ms} ms exceeds ${maxDelayMs} ms`);
        }
        return { p99Ms, maxMs, thresholdMs: maxDelayMs };
      },
    });
  }

  if (options.heap) {
    const { maxUsedRatio } = options.heap;
    checks.push({
      name: 'heap',
      ...common(options.heap),
      async check() {
        const stats = getHeapStatistics();
        const usedRatio = round(stats.used_heap_size / stats.heap_size_limit, 4);
        const details = {
          usedMb: round(stats.used_heap_size / MB),
          limitMb: round(stats.heap_size_limit / MB),
          usedRatio,
          thresholdRatio: maxUsedRatio,
        };
        if (usedRatio > maxUsedRatio) {
          throw new Error(`heap use ${usedRatio} of the limit exceeds ${maxUsedRatio}`);
        }
        return details;
      },
    });
  }

  if (options.rss) {
    const { maxBytes } = options.rss;
    checks.push({
      name: 'rss',
      ...common(options.rss),
      async check() {
        const rss = process.memoryUsage.rss();
        if (rss > maxBytes) {
          throw new Error(
            `resident set size ${round(rss / MB)} MB exceeds ${round(maxBytes / MB)} MB`,
          );
        }
        return { rssMb: round(rss / MB), thresholdMb: round(maxBytes / MB) };
      },
    });
  }

  if (options.disk) {
    const { path, minFreeBytes, minFreeRatio } = options.disk;
    checks.push({
      name: 'disk',
      ...common(options.disk),
      async check() {
        const stats = await statfs(path);
        // bavail: blocks available to an unprivileged user, which is what the app can write.
        const freeBytes = stats.bavail * stats.bsize;
        const freeRatio = stats.blocks > 0 ? round(stats.bavail / stats.blocks, 4) : 0;
        const details = { freeMb: round(freeBytes / MB), freeRatio };
        if (minFreeBytes !== undefined && freeBytes < minFreeBytes) {
          throw new Error(
            `free disk space ${details.freeMb} MB is below ${round(minFreeBytes / MB)} MB`,
          );
        }
        if (freeRatio < minFreeRatio) {
          throw new Error(`free disk space ratio ${freeRatio} is below ${minFreeRatio}`);
        }
        return details;
      },
    });
  }

  return {
    checks,
    close() {
      histogram?.disable();
    },
  };
}
