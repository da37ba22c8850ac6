import type { FastifyInstance } from 'fastify';

/**
 * Places one step of the ordered shutdown. avvio runs onClose hooks in REVERSE registration
 * order (last registered, first run), and Fastify's own hook (stop accepting, let in-flight
 * requests finish) is added at ready, so it runs first. A step registered *before* a plugin
 * therefore runs *after* that plugin's own close hook. The app registers, in this order:
 *
 *   embedded database stop → plugins → "pool ended" marker → resilience (ends the pool)
 *   → outbox relay stop → queue (drains workers) → "requests finished" marker → routes
 *
 * which runs as: requests finish → queue workers drain → relay stops → pool ends → embedded
 * database stops. Each step logs `shutdown step` with its name, so the order is visible (and
 * tested) in the log.
 */
export function shutdownStep(
  app: FastifyInstance,
  step: string,
  run: () => Promise<void> | void = () => undefined,
  /** Facts logged with the step, read when it is done (e.g. whether the pool has ended). */
  facts: () => Record<string, unknown> = () => ({}),
): void {
  // A named function: @bulwark/health names a hook that hangs past the deadline by this name.
  const hooks = {
    async [`shutdown step: ${step}`]() {
      await run();
      app.log.info({ step, ...facts() }, `shutdown step: ${step}`);
    },
  };
  app.addHook('onClose', hooks[`shutdown step: ${step}`]!);
}
