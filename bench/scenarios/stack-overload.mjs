// Issue 9: overload on the whole stack. The same ~1 ms CPU route offered several times its
// capacity, the full Bulwark stack (memory store) vs bare Fastify; see lib/overload.mjs. Same
// targets as issue 5: goodput ≥ 90 % of unloaded, p99 of 2xx ≤ 3 × unloaded.
import { measureOverload, OVERLOAD_FACTOR, overloadTargets } from '../lib/overload.mjs';

export default {
  name: 'stack-overload',
  title: `~1 ms CPU route offered ${OVERLOAD_FACTOR}× its capacity: full Bulwark stack vs bare Fastify`,
  needs: ['redis', 'postgres'],
  run: ({ redisUrl, databaseUrl }) =>
    measureOverload(
      [
        ['bare', { entry: 'servers/limits-work.mjs', env: { LIMITS: 'off' } }],
        ['bulwark stack', { entry: 'servers/stack.mjs', env: { WORK_MS: '1' } }],
      ],
      { REDIS_URL: redisUrl, DATABASE_URL: databaseUrl },
    ),
  targets: overloadTargets('bulwark stack'),
};
