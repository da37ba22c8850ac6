// The graceful shutdown sequence, on close-with-grace:
//   signal / uncaught error → readiness 503 at once (liveness stays 200)
//   → wait shutdownDelayMs, so load balancers stop routing here
//   → fastify.close(): stop accepting, close idle keep-alive sockets, let in-flight requests
//     finish (answered with `Connection: close`), then every onClose hook, last registered first
//   → exit 0 (1 after an uncaught error).
// close-with-grace bounds the whole sequence by shutdownTimeoutMs (its timer starts with the
// signal, before the delay) and exits 1 past it; the plugin logs what was still pending first.
// A second signal exits 1 at once.
import { setTimeout as sleep } from 'node:timers/promises';
import closeWithGrace from 'close-with-grace';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { CloseTracker } from './close-tracker.js';

export interface ShutdownOptions {
  shutdownDelayMs: number;
  shutdownTimeoutMs: number;
  /** Marks the app as shutting down (readiness 503) before the delay starts. */
  beginShutdown: () => void;
  tracker: CloseTracker;
}

/** Installs the process handlers; returns the function that removes them. */
export function installShutdown(fastify: FastifyInstance, options: ShutdownOptions): () => void {
  const log: FastifyBaseLogger = fastify.log;
  let startedAt = 0;
  const handlers = closeWithGrace(
    {
      delay: options.shutdownTimeoutMs,
      // Only the signals that mean "stop": SIGHUP/SIGUSR2/… keep their usual meaning, and
      // beforeExit must not turn a script's natural end (and its exit code) into a shutdown.
      skip: [
        'SIGHUP',
        'SIGQUIT',
        'SIGILL',
        'SIGTRAP',
        'SIGABRT',
        'SIGBUS',
        'SIGFPE',
        'SIGSEGV',
        'SIGUSR2',
        'beforeExit',
      ],
      logger: {
        error(message?: unknown) {
          log.error({ err: message }, 'graceful shutdown failed');
        },
      },
      onSecondSignal(signal) {
        log.error({ signal }, `second ${signal} during shutdown: exiting now`);
      },
      onSecondError(error) {
        log.fatal({ err: error }, 'another uncaught error during shutdown: exiting now');
      },
      onTimeout(delay) {
        const pending = options.tracker.pending();
        const names = [
          ...pending.running,
          ...(pending.untrackedPending
            ? ['(an onClose hook registered before @bulwark/health)']
            : []),
        ];
        log.error(
          {
            shutdownTimeoutMs: delay,
            elapsedMs: Date.now() - startedAt,
            pendingHooks: names,
            waitingHooks: pending.waiting,
            openConnections: openConnections(fastify),
          },
          names.length > 0
            ? `shutdown exceeded ${delay} ms, still running onClose hook: ${names.join(', ')}; exiting with code 1`
            : `shutdown exceeded ${delay} ms; exiting with code 1`,
        );
      },
    },
    async ({ signal, err }) => {
      startedAt = Date.now();
      if (err) {
        log.fatal({ err }, 'uncaught error: shutting down gracefully');
      } else {
        log.info(
          { signal, shutdownDelayMs: options.shutdownDelayMs },
          `${signal ?? 'shutdown requested'}: readiness now 503, closing in ${options.shutdownDelayMs} ms`,
        );
      }
      options.beginShutdown();
      if (options.shutdownDelayMs > 0) await sleep(options.shutdownDelayMs);
      await fastify.close();
      log.info({ elapsedMs: Date.now() - startedAt }, 'shutdown complete');
    },
  );
  return handlers.uninstall;
}

// Node's server keeps the count internally; -1 when unknown (the log is best effort).
function openConnections(fastify: FastifyInstance): number {
  const server = fastify.server as unknown as { _connections?: number };
  return typeof server._connections === 'number' ? server._connections : -1;
}
