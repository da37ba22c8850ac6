import type { FastifyBaseLogger } from 'fastify';
import type { EmailJobs } from './email.js';

export interface OutboxRelayOptions {
  /** How often the relay hands new rows to the queue (ms). */
  intervalMs: number;
  /** How often the sweeper looks for rows the queue lost (ms). */
  sweepIntervalMs: number;
  /** A pending row relayed longer ago than this is checked against the queue (ms). */
  staleAfterMs: number;
}

export interface RunningOutboxRelay {
  /** Stops the timers and waits (at most `waitMs`) for a pass in progress to finish. */
  stop(waitMs: number): Promise<void>;
}

/**
 * Polls the outbox on unref'd timers. A failed pass (Redis down, database down) leaves the rows
 * for the next pass: the relay never depends on the queue being up.
 */
export function startOutboxRelay(
  log: FastifyBaseLogger,
  jobs: EmailJobs,
  options: OutboxRelayOptions,
): RunningOutboxRelay {
  let pass: Promise<void> | undefined;
  let warned = false;
  let lastSweep = Date.now();
  let stopped = false;

  async function runPass(): Promise<void> {
    try {
      await jobs.relay();
      if (Date.now() - lastSweep >= options.sweepIntervalMs) {
        lastSweep = Date.now();
        await jobs.sweep(options.staleAfterMs);
      }
      if (warned) log.info('outbox relay recovered');
      warned = false;
    } catch (error) {
      if (!warned)
        log.warn({ err: error }, 'outbox relay failed; rows stay pending and are retried');
      warned = true;
    }
  }

  const timer = setInterval(
    () => {
      if (pass || stopped) return;
      pass = runPass().finally(() => {
        pass = undefined;
      });
    },
    Math.min(options.intervalMs, options.sweepIntervalMs),
  );
  timer.unref();

  return {
    async stop(waitMs) {
      stopped = true;
      clearInterval(timer);
      if (!pass) return;
      let bound: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        pass.then(() => true),
        new Promise<false>((resolve) => {
          bound = setTimeout(() => resolve(false), waitMs);
          bound.unref();
        }),
      ]);
      clearTimeout(bound);
      if (!finished)
        log.warn(
          { waitMs },
          'outbox relay pass still running at shutdown: left for the next start',
        );
    },
  };
}
