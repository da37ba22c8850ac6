import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { HelmetOptions } from 'helmet';
import { AlreadyRegisteredError } from './errors.js';
import { createGuard } from './guard.js';
import { type LimitsOptions, resolveOptions } from './options.js';
import { createRateLimitEngine, type TierName, type TierRouteConfig } from './rate-limit.js';
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

  const guard = createGuard({ baseHelmet, baseHeaders, shedder, engine });
  fastify.addHook('onRoute', guard.onRoute);
  fastify.addHook('onRequest', guard.hook);

  fastify.addHook('onClose', async () => {
    shedder?.close();
    await engine.close();
  });
}

export { bulwarkLimits };
export default fp(bulwarkLimits, { name: '@bulwark/limits', fastify: '5.x' });
