import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { HelmetOptions } from 'helmet';
import type { RateLimitCheck, RateLimitEngine } from './rate-limit.js';
import { computeSecurityHeaders, mergeHelmetOptions } from './security-headers.js';
import type { Priority, Shedder } from './shedding.js';

/** What the guard does for one route, resolved once per route (never per request). */
export interface RouteGuard {
  /** Security headers written on every response of the route, or none. */
  readonly headers: Record<string, string> | undefined;
  /** The shedder's admission check (none for probes, or with shedding off). */
  readonly admit: ((request: FastifyRequest, reply: FastifyReply) => boolean) | undefined;
  /** The per-IP tier (none for probes). */
  readonly rateLimit: RateLimitCheck | undefined;
}

/** Where a route's resolved guard is kept: on the route's own config object (copied by Fastify into its context). */
export const kGuard = Symbol('bulwark.limits.guard');

interface GuardConfig {
  bulwarkProbe?: boolean;
  limits?: { priority?: Priority; securityHeaders?: HelmetOptions | false };
  url?: string;
  method?: string | string[];
  [kGuard]?: RouteGuard;
}

const NO_CONFIG: GuardConfig = {};

interface GuardParts {
  baseHelmet: HelmetOptions | undefined;
  baseHeaders: Record<string, string> | undefined;
  shedder: Shedder | undefined;
  engine: RateLimitEngine;
}

/**
 * Builds the plugin's one instance-level `onRequest` hook and the `onRoute` resolver feeding it.
 *
 * The guard is an instance-level hook, not a route-level one: Fastify runs instance and scoped
 * hooks before route-level hooks, so a route-level guard never saw what an earlier hook answered
 * (a 401 from a scoped auth hook) nor the not-found handler. Registered by a fastify-plugin
 * wrapped plugin, it runs for every route of the app (Fastify builds each route's hook list when
 * the app is ready, from the hooks its instance has then), after the hooks of plugins registered
 * before this one and before any hook registered after it.
 *
 * Per route it only reads one symbol off the route config: routes seen by `onRoute` carry their
 * resolved guard there; routes registered before this plugin (probes, /metrics) and the
 * not-found handler are resolved on their first request and remembered per config object.
 */
export function createGuard(parts: GuardParts) {
  const { baseHelmet, baseHeaders, shedder, engine } = parts;

  function resolve(config: GuardConfig, route: RouteOptions | undefined): RouteGuard {
    const routeHelmet = config.limits?.securityHeaders;
    let headers = baseHeaders;
    if (routeHelmet === false) headers = undefined;
    else if (routeHelmet && baseHelmet)
      headers = computeSecurityHeaders(mergeHelmetOptions(baseHelmet, routeHelmet));
    else if (routeHelmet) headers = computeSecurityHeaders(routeHelmet);
    const probe = config.bulwarkProbe === true;
    const admit = shedder && !probe ? shedder.gate(config.limits?.priority ?? 'normal') : undefined;
    let rateLimit: RateLimitCheck | undefined;
    if (!probe) {
      // A route seen in onRoute also gets its preHandler tiers; one seen only here (registered
      // before this plugin, or the not-found handler) gets the per-IP tier alone.
      rateLimit =
        route !== undefined
          ? engine.onRoute(route)
          : engine.onRoute(
              { url: config.url ?? '', method: config.method ?? 'GET', config } as RouteOptions,
              false,
            );
    }
    return { headers, admit, rateLimit };
  }

  const unseen = new WeakMap<object, RouteGuard>();

  return {
    /** The onRoute hook: resolves the route's guard and keeps it on a copy of its config. */
    onRoute(route: RouteOptions): void {
      const config = (route.config ?? {}) as GuardConfig;
      const guard = resolve(config, route);
      // A copy, not the user's object: one config object may be shared by several routes.
      route.config = { ...config, [kGuard]: guard } as RouteOptions['config'];
    },
    /**
     * The guard, in this order: security headers (so every answer, 429 and 503 included, carries
     * them), shedding (a shed request costs nothing more), then the per-IP rate limit. One hook
     * rather than three: each hook is a turn of Fastify's hook runner on every request.
     */
    hook: function bulwarkGuard(
      request: FastifyRequest,
      reply: FastifyReply,
      done: (error?: Error) => void,
    ): void {
      const config = (request.routeOptions.config ?? NO_CONFIG) as GuardConfig;
      let guard = config[kGuard];
      if (guard === undefined) {
        guard = unseen.get(config);
        if (guard === undefined) {
          guard = resolve(config, undefined);
          unseen.set(config, guard);
        }
      }
      if (guard.headers !== undefined) reply.headers(guard.headers);
      if (guard.admit !== undefined && !guard.admit(request, reply)) return;
      if (guard.rateLimit !== undefined) guard.rateLimit(request, reply, done);
      else done();
    },
  };
}
