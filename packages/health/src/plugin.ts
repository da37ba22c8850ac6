import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { builtinChecks } from './builtin-checks.js';
import {
  CheckRegistry,
  type CheckReport,
  type HealthCheck,
  type OverallStatus,
} from './check-registry.js';
import { CloseTracker } from './close-tracker.js';
import { AlreadyRegisteredError } from './errors.js';
import { checkMetrics, type MetricsLike, type RecordResult } from './metrics.js';
import { registerOpsRoutes } from './ops-routes.js';
import { type HealthOptions, resolveOptions } from './options.js';
import { type ProbeState, readiness, registerRoutes } from './routes.js';
import { installShutdown } from './shutdown.js';

/** `fastify.health`: the check registry and the app's lifecycle state. */
export interface HealthRegistry {
  /**
   * Adds a check. It runs in the background every `intervalMs`, bounded by `timeoutMs`; probes
   * read its last result. Throws `BULWARK_HEALTH_INVALID_CHECK` / `BULWARK_HEALTH_DUPLICATE_CHECK`.
   */
  register(check: HealthCheck): void;
  /** True from the shutdown signal (or `fastify.close()`) on: readiness answers 503. */
  readonly shuttingDown: boolean;
  /** True once plugins are loaded and every critical check has passed once; never false again. */
  readonly startupComplete: boolean;
  /** Overall status from the cached results. */
  readonly status: OverallStatus;
  /** Every check's last result (sanitised), as the detailed view shows it. */
  report(): Record<string, CheckReport>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The health check registry and lifecycle state of @bulwark/health. */
    health: HealthRegistry;
  }
  interface FastifyContextConfig {
    /** Marks an infrastructure endpoint (probe, metrics): never rate limited or shed, not counted in HTTP metrics. */
    bulwarkProbe?: boolean;
  }
}

const registered = Symbol('bulwark.health.registered');

async function bulwarkHealth(fastify: FastifyInstance, options: HealthOptions): Promise<void> {
  if ((fastify as unknown as Record<symbol, unknown>)[registered]) {
    throw new AlreadyRegisteredError();
  }
  const resolved = resolveOptions(options);
  fastify.decorate(registered, true);

  let shuttingDown = false;
  let appReady = false;
  let startupComplete = false;

  const record: RecordResult | undefined = fastify.hasDecorator('metrics')
    ? checkMetrics((fastify as unknown as { metrics: MetricsLike }).metrics)
    : undefined;

  const registry: CheckRegistry = new CheckRegistry({
    defaultIntervalMs: resolved.checkIntervalMs,
    defaultTimeoutMs: resolved.checkTimeoutMs,
    ...(record ? { onResult: record } : {}),
    onTransition(name, passed, error, first) {
      if (!passed)
        fastify.log.warn({ check: name, error }, `health check "${name}" failed: ${error}`);
      else if (first) fastify.log.debug({ check: name }, `health check "${name}" passed`);
      else fastify.log.info({ check: name }, `health check "${name}" recovered`);
    },
    onChange: () => updateStartup(),
  });

  function updateStartup(): void {
    if (startupComplete || !appReady) return;
    if (registry.summary().criticalNeverPassed.length > 0) return;
    startupComplete = true;
    fastify.log.info({ checks: registry.size }, 'startup complete: every critical check passed');
  }

  const health: HealthRegistry = {
    register: (check) => registry.register(check),
    get shuttingDown() {
      return shuttingDown;
    },
    get startupComplete() {
      return startupComplete;
    },
    get status() {
      return registry.summary().status;
    },
    report: () => registry.report(),
  };
  fastify.decorate('health', health);

  const builtins = builtinChecks(resolved.checks);
  for (const check of builtins.checks) registry.register(check);

  // This hook is registered before the close tracker is installed, so it runs after every
  // tracked hook and marks where the untracked ones (registered before this plugin) begin.
  const tracker = new CloseTracker();
  let uninstall: (() => void) | undefined;
  let reaper: NodeJS.Timeout | undefined;
  fastify.addHook('onClose', async function bulwarkHealthClose() {
    registry.stop();
    builtins.close();
    clearInterval(reaper);
    uninstall?.();
    tracker.ownHookDone();
  });
  tracker.install(fastify);

  const probeState: ProbeState = {
    registry,
    get shuttingDown() {
      return shuttingDown;
    },
    get startupComplete() {
      return startupComplete;
    },
  };
  const routes = registerRoutes(fastify, resolved, probeState);
  const opsServed = registerOpsRoutes(fastify, resolved, {
    registry,
    get shuttingDown() {
      return shuttingDown;
    },
    ready: () => readiness(probeState).statusCode === 200,
  });
  if (resolved.ops.enabled && !opsServed) {
    fastify.log.info(
      `${resolved.ops.path} (the ops page) is not served: production without a token (set the token option to expose it)`,
    );
  }
  if (!routes.detailed) {
    fastify.log.info(
      `${resolved.prefix === '/' ? '' : resolved.prefix}/detailed is not served: production without a token (set the token option to expose it)`,
    );
  }

  // Answers that finish during shutdown tell keep-alive clients to reconnect elsewhere; without
  // it Node keeps their sockets until the keep-alive timeout and `close()` waits that long.
  fastify.addHook('onSend', function bulwarkHealthConnectionClose(request, reply, payload, done) {
    if (shuttingDown && request.raw.httpVersionMajor < 2) reply.header('connection', 'close');
    done(null, payload);
  });

  fastify.addHook('preClose', function bulwarkHealthPreClose(done) {
    shuttingDown = true;
    // preClose runs inside Fastify's own onClose hook, the one that closes the server.
    tracker.labelRunning('fastify: server.close() (in-flight requests, open connections)');
    // Sockets that go idle after close() began (a request finishing on a client that ignores
    // `Connection: close`) are not reaped by Node; do it until the server is closed.
    const server = fastify.server;
    if (typeof server.closeIdleConnections === 'function' && server.listening) {
      reaper = setInterval(() => server.closeIdleConnections(), 250);
      reaper.unref();
      server.once('close', () => clearInterval(reaper));
    }
    done();
  });

  fastify.addHook('onReady', async function bulwarkHealthReady() {
    appReady = true;
    registry.start();
    updateStartup();
    // Installed once the app is ready, so a failed boot leaves no process handlers behind.
    if (resolved.handleSignals) {
      uninstall = installShutdown(fastify, {
        shutdownDelayMs: resolved.shutdownDelayMs,
        shutdownTimeoutMs: resolved.shutdownTimeoutMs,
        beginShutdown: () => {
          shuttingDown = true;
        },
        tracker,
      });
    }
  });
}

export { bulwarkHealth };
export default fp(bulwarkHealth, { name: '@bulwark/health', fastify: '5.x' });
