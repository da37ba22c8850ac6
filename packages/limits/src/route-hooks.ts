import type { RouteOptions } from 'fastify';

type HookName = 'onRequest' | 'preHandler';

/**
 * Adds a hook to one route from an onRoute hook, so routes that do not need it pay nothing.
 * `first` puts it before the route's own hooks of that kind (instance-level hooks still run
 * before any route-level one).
 */
export function addRouteHook(
  route: RouteOptions,
  name: HookName,
  hook: (...args: never[]) => unknown,
  position: 'first' | 'last' = 'last',
): void {
  const target = route as unknown as Record<HookName, unknown>;
  const current = target[name];
  if (Array.isArray(current)) {
    if (position === 'first') current.unshift(hook);
    else current.push(hook);
  } else if (typeof current === 'function') {
    target[name] = position === 'first' ? [hook, current] : [current, hook];
  } else {
    target[name] = [hook];
  }
}
