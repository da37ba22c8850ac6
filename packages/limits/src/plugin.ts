import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { HelmetOptions } from 'helmet';
import { AlreadyRegisteredError } from './errors.js';
import { type LimitsOptions, resolveOptions } from './options.js';
import { createRateLimitEngine, type TierName, type TierRouteConfig } from './rate-limit.js';
import { addRouteHook } from './route-hooks.js';
import {
  computeSecurityHeaders,
  jsonApiHelmetOptions,
  mergeHelmetOptions,
} from './security-headers.js';
import { createShedder, type Priority } from './shedding.js';

/** Per-route settings, under `config.limits`. */
export interface LimitsRouteConfig extends Partial<Record<TierName, TierRouteConfig>> {
  /**
   * How the load shedder treats this route: `sheddable` goes first, `critical` last.
   * @default 'normal'
   */
  priority?: Priority;
  /** helmet options merged over the app's for this route (e.g. a docs page), or false for none. */
  securityHeaders?: HelmetOptions | false;
}

/** `fastify.limits`: what the plugin is doing right now. */
export interface LimitsDecorator {
  /** Where rate-limit state lives. */
  readonly store: 'memory' | 'redis';
  /** True while Redis is unavailable and limits are enforced per process. */
  readonly inFallback: boolean;
  /** The adaptive concurrency limit now (0 when shedding is off). */
  readonly concurrencyLimit: number;
  /** Requests in flight now, as the shedder counts them. */
  readonly inFlight: number;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Marks an infrastructure endpoint (probe, metrics): never rate limited or shed, not counted in HTTP metrics. */
    bulwarkProbe?: boolean;
    /** @bulwark/limits settings for this route: tiers, shedding priority, security headers. */
    limits?: LimitsRouteConfig;
  }
  interface FastifyInstance {
    /** @bulwark/limits state: store, fallback, concurrency limit. */
    limits: LimitsDecorator;
  }
}

const registered = Symbol('bulwark.limits.registered');

async function bulwarkLimits(fastify: FastifyInstance, options: LimitsOptions): Promise<void> {
  if ((fastify as unknown as Record<symbol, unknown>)[registered]) {
    throw new AlreadyRegisteredError();
  }
  const resolved = resolveOptions(options);
  fastify.decorate(registered, true);

  const shedder =
    resolved.shedding === false ? undefined : createShedder(fastify, resolved.shedding);
  const engine = await createRateLimitEngine(fastify, resolved);

  // Security headers: computed once per configuration, applied with one reply.headers().
  let baseHelmet: HelmetOptions | undefined;
  let baseHeaders: Record<string, string> | undefined;
  if (resolved.securityHeaders !== false) {
    const hsts = resolved.securityHeaders.hsts ?? process.env.NODE_ENV === 'production';
    baseHelmet = mergeHelmetOptions(
      jsonApiHelmetOptions(hsts),
      resolved.securityHeaders.helmet ?? {},
    );
    baseHeaders = computeSecurityHeaders(baseHelmet);
  }

  fastify.decorate('limits', {
    get store() {
      return engine.storeKind;
    },
    get inFallback() {
      return engine.inFallback;
    },
    get concurrencyLimit() {
      return shedder?.limit ?? 0;
    },
    get inFlight() {
      return shedder?.inFlight ?? 0;
    },
  } satisfies LimitsDecorator);

  fastify.addHook('onRoute', (route: RouteOptions) => {
    const config = (route.config ?? {}) as { bulwarkProbe?: boolean; limits?: LimitsRouteConfig };
    const routeHelmet = config.limits?.securityHeaders;
    let headers = baseHeaders;
    if (routeHelmet === false) headers = undefined;
    else if (routeHelmet && baseHelmet)
      headers = computeSecurityHeaders(mergeHelmetOptions(baseHelmet, routeHelmet));
    else if (routeHelmet) headers = computeSecurityHeaders(routeHelmet);
    const probe = config.bulwarkProbe === true;
    const admit = shedder && !probe ? shedder.gate(config.limits?.priority ?? 'normal') : undefined;
    const rateLimit = probe ? undefined : engine.onRoute(route);
    if (!headers && !admit && !rateLimit) return;
    // One hook, first on the route, in this order: security headers (so a 503 or 429 carries
    // them), shedding (a shed request costs nothing more), then the per-IP rate limit. One hook
    // rather than three: each hook is a turn of Fastify's hook runner on every request.
    const fixed = headers;
    addRouteHook(
      route,
      'onRequest',
      function bulwarkLimits(request: FastifyRequest, reply: FastifyReply, done: () => void) {
        if (fixed !== undefined) reply.headers(fixed);
        if (admit !== undefined && !admit(request, reply)) return;
        if (rateLimit !== undefined) rateLimit(request, reply, done);
        else done();
      },
      'first',
    );
  });

  fastify.addHook('onClose', async () => {
    shedder?.close();
    await engine.close();
  });
}

export { bulwarkLimits };
export default fp(bulwarkLimits, { name: '@bulwark/limits', fastify: '5.x' });
