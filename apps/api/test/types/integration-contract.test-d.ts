/**
 * The integration contract, checked by `tsc` (`pnpm typecheck` compiles apps/api's `test/`):
 * each plugin declares, types only, what it expects of `fastify.metrics` (@bulwark/observability)
 * and `fastify.health` (@bulwark/health). The real decorators must satisfy every one of those
 * expectations, so a change to either decorator that would break a plugin fails the type check
 * here instead of at a user's runtime. (The four copies are issue 20's part F, still to merge into
 * one definition; this test holds them to the real decorators meanwhile.)
 */

// Side-effect type imports: the `declare module 'fastify'` blocks of the real decorators.
import type {} from '@bulwark/health';
import type {} from '@bulwark/observability';
import type { FastifyInstance } from 'fastify';
import { expectTypeOf } from 'vitest';
import type * as health from '../../../../packages/health/src/metrics.js';
import type * as limits from '../../../../packages/limits/src/integrations.js';
import type * as queue from '../../../../packages/queue/src/telemetry.js';
import type * as resilience from '../../../../packages/resilience/src/integration.js';

type Metrics = FastifyInstance['metrics'];
type Health = FastifyInstance['health'];

expectTypeOf<Metrics>().toExtend<health.MetricsLike>();
expectTypeOf<Metrics>().toExtend<limits.MetricsLike>();
expectTypeOf<Metrics>().toExtend<queue.MetricsLike>();
expectTypeOf<Metrics>().toExtend<resilience.MetricsLike>();

expectTypeOf<Health>().toExtend<limits.HealthLike>();
expectTypeOf<Health>().toExtend<queue.HealthLike>();
expectTypeOf<Health>().toExtend<resilience.HealthLike>();
