import type { Server } from 'node:http';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  onRequestAbortHookHandler,
  onResponseHookHandler,
  RouteOptions,
} from 'fastify';
import fp from 'fastify-plugin';
import { Registry } from 'prom-client';
import { AlreadyRegisteredError } from './errors.js';
import { HttpMetrics, type RouteSeries, UNMATCHED_ROUTE } from './http-metrics.js';
import { MemoryWatch } from './memory-watch.js';
import { createMetrics, type Metrics, registerDefaultMetrics } from './metrics.js';
import { addMetricsRoute, createMetricsServer } from './metrics-endpoint.js';
import {
  type ObservabilityOptions,
  type ResolvedObservabilityOptions,
  resolveOptions,
} from './options.js';
import { requestIdGenerator } from './request-id.js';
import { flushSpans, sampledTraceId, tracingActive } from './tracing.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The prom-client registry of this app instance and helpers to add metrics (`@bulwark/observability`). */
    metrics: Metrics;
  }
  interface FastifyRequest {
    /** Set it (e.g. in an auth hook) to put `userId` on the request's completion log line. */
    userId: string | number | null;
    /** Set it (e.g. in an auth hook) to put `tenantId` on the request's completion log line. */
    tenantId: string | number | null;
  }
  interface FastifyContextConfig {
    /** Marks an infrastructure endpoint (probe, metrics): never rate limited or shed, not counted in HTTP metrics. */
    bulwarkProbe?: boolean;
  }
}

const registered = Symbol('bulwark.observability.registered');
const kError = Symbol('bulwark.observability.error');
const kAborted = Symbol('bulwark.observability.aborted');

type RequestWithError = FastifyRequest & { [kError]?: Error; [kAborted]?: true };

/** What the request hooks need, resolved once at registration. */
interface Recorder {
  readonly http: HttpMetrics | undefined;
  readonly log: boolean;
  readonly slowMs: number;
  readonly exemplars: boolean;
}

function completion(
  recorder: Recorder,
  series: RouteSeries | undefined,
  route: string,
  request: FastifyRequest,
  reply: FastifyReply,
  log: boolean,
): void {
  // Set only on the rare abort path; onResponse does not normally follow an abort, but if an
  // errored write ever made it, the request must not be counted twice.
  if ((request as RequestWithError)[kAborted] === true) return;
  const elapsedMs = reply.elapsedTime;
  const statusCode = reply.statusCode;
  if (series !== undefined && recorder.http !== undefined) {
    recorder.http.record(
      series,
      request.method,
      statusCode,
      elapsedMs / 1000,
      recorder.exemplars ? sampledTraceId() : undefined,
    );
  }
  if (!log) return;
  const line: Record<string, unknown> = {
    method: request.method,
    route,
    statusCode,
    responseTime: Math.round(elapsedMs * 1000) / 1000,
  };
  if (request.userId !== null) line.userId = request.userId;
  if (request.tenantId !== null) line.tenantId = request.tenantId;
  if (route === UNMATCHED_ROUTE) {
    const url = request.url;
    const queryAt = url.indexOf('?');
    line.path = queryAt === -1 ? url : url.slice(0, queryAt);
  }
  if (statusCode >= 500) {
    const error = (request as RequestWithError)[kError];
    if (error !== undefined) line.err = error;
    request.log.error(line, 'request errored');
  } else if (elapsedMs > recorder.slowMs) {
    request.log.warn(line, 'slow request');
  } else {
    request.log.info(line, 'request completed');
  }
}

function abandoned(
  recorder: Recorder,
  series: RouteSeries | undefined,
  route: string,
  request: FastifyRequest,
  log: boolean,
): void {
  (request as RequestWithError)[kAborted] = true;
  if (series !== undefined && recorder.http !== undefined)
    recorder.http.recordAbort(series, request.method);
  if (log) request.log.info({ method: request.method, route, statusCode: 499 }, 'request aborted');
}

function captureError(
  request: FastifyRequest,
  _reply: FastifyReply,
  error: Error,
  done: HookHandlerDoneFunction,
) {
  (request as RequestWithError)[kError] = error;
  done();
}

function appendHook<T>(existing: T | T[] | undefined, hook: T): T | T[] {
  if (existing === undefined) return hook;
  return Array.isArray(existing) ? [...existing, hook] : [existing, hook];
}

async function bulwarkObservability(
  fastify: FastifyInstance,
  options: ObservabilityOptions,
): Promise<void> {
  if ((fastify as unknown as Record<symbol, unknown>)[registered]) {
    throw new AlreadyRegisteredError();
  }
  const config: ResolvedObservabilityOptions = resolveOptions(options);
  fastify.decorate(registered, true);

  // Request ids: a safe incoming header, or a UUID. Fastify's own `requestIdHeader` would take the
  // header unchecked before ours runs, so it must stay off (the Fastify 5 default).
  if (fastify.initialConfig.requestIdHeader) {
    fastify.log.warn(
      { requestIdHeader: fastify.initialConfig.requestIdHeader },
      '@bulwark/observability: Fastify requestIdHeader is set, so incoming ids are used unchecked; remove it and let the plugin validate them',
    );
  }
  fastify.setGenReqId(requestIdGenerator(config.requestId.header, config.requestId.maxLength));
  if (!fastify.hasRequestDecorator('userId')) fastify.decorateRequest('userId', null);
  if (!fastify.hasRequestDecorator('tenantId')) fastify.decorateRequest('tenantId', null);

  let http: HttpMetrics | undefined;
  let metricsServer: Server | undefined;
  if (config.metrics.enabled) {
    const metrics = createMetrics(new Registry(), config.metrics.prefix);
    fastify.decorate('metrics', metrics);
    if (config.metrics.defaultMetrics) registerDefaultMetrics(metrics);
    if (config.metrics.http) {
      http = new HttpMetrics(
        metrics,
        config.metrics.buckets,
        config.metrics.exemplars && tracingActive(),
      );
    }
    if (config.metrics.port === undefined) {
      addMetricsRoute(fastify, metrics.registry, config.metrics.path, config.metrics.token);
    } else {
      const port = config.metrics.port;
      const host = config.metrics.host;
      const server = createMetricsServer(
        metrics.registry,
        config.metrics.path,
        config.metrics.token,
        (error) => fastify.log.error({ err: error }, 'collecting metrics failed'),
      );
      metricsServer = server;
      fastify.addHook('onReady', async () => {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ port, host }, () => {
            server.off('error', reject);
            resolve();
          });
        });
      });
    }
  }

  const recorder: Recorder = {
    http,
    log: config.requestLog.enabled,
    slowMs: config.requestLog.slowMs,
    exemplars: http?.exemplars ?? false,
  };
  const header = config.requestId.header;
  const countProbes = config.metrics.countProbes;
  const logProbes = config.requestLog.probes;

  // Per-route work is attached in onRoute, so a probe route that opts out pays nothing, and the
  // route template is captured once instead of read through `request.routeOptions` (a getter that
  // builds an object) on every request.
  fastify.addHook('onRoute', (route: RouteOptions) => {
    const probe = route.config?.bulwarkProbe === true;
    const series =
      http !== undefined && (!probe || countProbes) ? http.route(route.url) : undefined;
    const log = recorder.log && (!probe || logProbes);
    if (series === undefined && !log) return;
    const template = route.url;
    const onResponse: onResponseHookHandler = function recordRequest(request, reply, done) {
      completion(recorder, series, template, request, reply, log);
      done();
    };
    route.onResponse = appendHook(route.onResponse, onResponse);
    // Without it, a request the client abandons never reaches onResponse and is never counted
    // (its in-flight slot is released by the response's 'close' either way).
    const onRequestAbort: onRequestAbortHookHandler = function recordAbort(request, done) {
      abandoned(recorder, series, template, request, log);
      done();
    };
    route.onRequestAbort = appendHook(route.onRequestAbort, onRequestAbort);
  });

  // Global hooks: the id echo for every response, and the bookkeeping of requests no route
  // matched (they never pass through onRoute).
  const unmatched = http?.unmatched;
  // In flight: raised here, in the first instance-level hook, for every request whoever answers
  // it, and lowered by the raw response's 'close', which Node emits exactly once per response:
  // after it is written, or when the connection drops first (an aborted request). Raising in a
  // route-level hook and lowering in onResponse drifted: a request answered by an earlier hook
  // (a 401 from an auth hook, a 429 or 503 from @bulwark/limits) was lowered but never raised.
  // One shared listener, no closure per request.
  function lowerInFlight(): void {
    http!.inFlight--;
  }
  fastify.addHook('onRequest', function echoRequestId(request, reply, done) {
    reply.header(header, request.id);
    // Probes and /metrics are left out unless countProbes (a scrape would always see itself).
    if (
      http !== undefined &&
      (countProbes ||
        (request.routeOptions.config as { bulwarkProbe?: boolean } | undefined)?.bulwarkProbe !==
          true)
    ) {
      http.inFlight++;
      reply.raw.on('close', lowerInFlight);
    }
    done();
  });
  fastify.addHook('onResponse', function recordUnmatched(request, reply, done) {
    if (request.is404)
      completion(recorder, unmatched, UNMATCHED_ROUTE, request, reply, recorder.log);
    done();
  });
  fastify.addHook('onError', captureError);

  let watch: MemoryWatch | undefined;
  if (config.memory.enabled) {
    watch = new MemoryWatch(fastify.log, config.memory.threshold);
    watch.start(config.memory.intervalMs);
  }

  fastify.addHook('onClose', async () => {
    watch?.stop();
    if (metricsServer?.listening) {
      const server = metricsServer;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    if (config.tracing.flushOnClose) await flushSpans(5_000);
    // A buffered destination (loggerOptions({ file })) would otherwise hold the last lines.
    (fastify.log as { flush?: () => void }).flush?.();
  });
}

export { bulwarkObservability };
export default fp(bulwarkObservability, { name: '@bulwark/observability', fastify: '5.x' });
