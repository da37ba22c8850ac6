// Issue 5: overload. A route doing ~1 ms of CPU per request (servers/limits-work.mjs) offered
// several times its capacity, @bulwark/limits' shedding vs bare Fastify; see lib/overload.mjs.
// Targets (issue 5): overloaded goodput (2xx/s) ≥ 90 % of the unloaded maximum, and p99 of the
// successful requests ≤ 3 × the unloaded p99.
import { measureOverload, OVERLOAD_FACTOR, overloadTargets } from '../lib/overload.mjs';

const work = (env) => ({ entry: 'servers/limits-work.mjs', env });

export default {
  name: 'limits-overload',
  title: `~1 ms CPU route offered ${OVERLOAD_FACTOR}× its capacity: @bulwark/limits shedding vs bare Fastify`,
  run: () =>
    measureOverload([
      ['bare', work({ LIMITS: 'off' })],
      ['limits', work({})],
    ]),
  targets: overloadTargets('limits'),
};
