import type { FastifyInstance } from 'fastify';
import type { EmailJobs } from './email.js';

/**
 * Polls the outbox on an unref'd timer. A failed pass (Redis down, database down) leaves the
 * rows for the next pass: registering never depends on the queue being up.
 */
export function startOutboxRelay(app: FastifyInstance, jobs: EmailJobs, intervalMs = 500): void {
  let running = false;
  let warned = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    jobs
      .relay()
      .then(
        () => {
          if (warned) app.log.info('outbox relay recovered');
          warned = false;
        },
        (error: unknown) => {
          if (!warned)
            app.log.warn({ err: error }, 'outbox relay failed; rows stay pending and are retried');
          warned = true;
        },
      )
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  app.addHook('onClose', async function stopOutboxRelay() {
    clearInterval(timer);
  });
}
