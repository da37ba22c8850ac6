import type { RouteOptions } from 'fastify';

type HookName = 'onRequest' | 'preHandler' | 'onSend';

/**
 * Adds a hook after a route's own hooks of that kind, from an onRoute hook, so routes that do
 * not need it pay nothing. Always builds a new array: Fastify's automatic HEAD route is a shallow
 * copy of its GET route's options, so the two share the user's hook array, and pushing onto it
 * in place added the hook twice to both routes (every tier charged twice per request).
 */
export function addRouteHook(
  route: RouteOptions,
  name: HookName,
  hook: (...args: never[]) => unknown,
): void {
  const target = route as unknown as Record<HookName, unknown>;
  const current = target[name];
  if (Array.isArray(current)) target[name] = [...current, hook];
  else if (typeof current === 'function') target[name] = [current, hook];
  else target[name] = [hook];
}
