// Names the onClose hooks, so that a shutdown past its deadline can say which hook hangs.
//
// Fastify has no API listing hooks. Every onClose registration, `addHook('onClose', fn)`
// included, ends in `instance.onClose(fn)` (avvio's exposed method), looked up through the
// prototype chain that encapsulated child instances share with their parent. Replacing that one
// method on the instance this plugin receives (the root, via fastify-plugin) therefore sees every
// hook registered after @bulwark/health, in this scope and every child scope, together with the
// plugin that registered it (`this.pluginName`). The wrapper keeps the hook's calling convention
// (0, 1 or 2 parameters) and only records when it starts and settles. Fastify runs onClose hooks
// one at a time, last registered first, so "running" is at most one hook and "waiting" the rest.
// Hooks registered before this plugin are not seen one by one; the plugin's own onClose hook
// marks the boundary, so the log can still say "a hook registered before @bulwark/health".
import type { FastifyInstance } from 'fastify';

type Done = (error?: Error) => void;
type AnyOnCloseHook = (instance: FastifyInstance, done: Done) => unknown;

interface TrackedHook {
  label: string;
  state: 'waiting' | 'running' | 'done';
}

/** What is still pending when the deadline passes. */
export interface PendingHooks {
  running: string[];
  waiting: string[];
  /** True when hooks registered before @bulwark/health may still be running. */
  untrackedPending: boolean;
}

export class CloseTracker {
  readonly #hooks: TrackedHook[] = [];
  #ownHookDone = false;

  /** Replaces `fastify.onClose` on this instance with a recording wrapper. */
  install(fastify: FastifyInstance): void {
    // `onClose` is avvio's method, present at run time but absent from Fastify's types.
    const target = fastify as unknown as {
      onClose: (this: FastifyInstance, hook: unknown) => unknown;
    };
    const original = target.onClose;
    const tracker = this;
    target.onClose = function (this: FastifyInstance, hook: unknown) {
      if (typeof hook !== 'function') return original.call(this, hook);
      return original.call(this, tracker.#wrap(hook as AnyOnCloseHook, this));
    };
  }

  /**
   * Called by the plugin's own onClose hook: it was registered before every tracked hook, so it
   * runs after them, and before the hooks registered ahead of @bulwark/health.
   */
  ownHookDone(): void {
    this.#ownHookDone = true;
  }

  /** Renames the hook now running; used for Fastify's own server-close hook. */
  labelRunning(label: string): void {
    const running = this.#hooks.find((hook) => hook.state === 'running');
    if (running) running.label = label;
  }

  pending(): PendingHooks {
    const running: string[] = [];
    const waiting: string[] = [];
    // Fastify runs the last registered first; list them in that order.
    for (let index = this.#hooks.length - 1; index >= 0; index -= 1) {
      const hook = this.#hooks[index]!;
      if (hook.state === 'running') running.push(hook.label);
      else if (hook.state === 'waiting') waiting.push(hook.label);
    }
    return { running, waiting, untrackedPending: this.#ownHookDone };
  }

  #wrap(hook: AnyOnCloseHook, instance: FastifyInstance): AnyOnCloseHook {
    const name = hook.name.replace(/^(bound )+/, '');
    // pluginName is the chain ("fastify -> a -> b"); fastify-plugin siblings accumulate in it,
    // and the last link is the plugin registering now.
    const plugin = instance.pluginName.split(' -> ').at(-1) ?? 'fastify';
    const tracked: TrackedHook = {
      label: name
        ? `${plugin}: ${name}`
        : `${plugin}: anonymous onClose hook #${this.#hooks.length + 1}`,
      state: 'waiting',
    };
    this.#hooks.push(tracked);
    const arity = hook.length;
    // Two named parameters so avvio calls it with (instance, done) whatever the original takes.
    return function trackedOnCloseHook(self: FastifyInstance, done: Done) {
      tracked.state = 'running';
      const finish = (error?: Error) => {
        tracked.state = 'done';
        done(error);
      };
      if (arity >= 2) {
        hook.call(self, self, finish);
        return;
      }
      let result: unknown;
      try {
        result = arity === 0 ? (hook as () => unknown).call(self) : hook.call(self, self, finish);
      } catch (error) {
        finish(error as Error);
        return;
      }
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        (result as Promise<unknown>).then(
          () => finish(),
          (error: unknown) => finish(error as Error),
        );
      } else {
        finish();
      }
    };
  }
}
