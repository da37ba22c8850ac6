// The state the ops page shows, read from the other plugins' decorators when they are registered.
// Structural types only: @bulwark/health never imports a sibling package (DESIGN: integration is
// optional and discovered), so each section exists only when its plugin decorated the app.
import type { FastifyInstance } from 'fastify';
import type { CheckRegistry, CheckReport, OverallStatus } from './check-registry.js';

interface MetricLike {
  get(): Promise<{ values: { value: number; labels: Record<string, string | number> }[] }>;
}
interface MetricsLike {
  readonly prefix?: string;
  readonly registry: { getSingleMetric(name: string): MetricLike | undefined };
}
interface BreakerLike {
  readonly name: string;
  readonly state: string;
  snapshot(): { calls: number; failureRate: number; slowCallRate: number };
}
interface BreakersLike {
  list(): BreakerLike[];
}
interface LimitsLike {
  readonly store: string;
  readonly inFallback: boolean;
  readonly concurrencyLimit: number;
  readonly inFlight: number;
}
interface DbLike {
  stats(): { total: number; idle: number; waiting: number; max: number };
}
interface QueuesLike {
  readonly enabled: boolean;
  names(): string[];
  stats(name: string): Promise<Record<string, number>>;
}

/** One breaker on the ops page. */
export interface OpsBreaker {
  name: string;
  state: string;
  calls: number;
  /** Percent of the window's calls that failed. */
  failureRate: number;
  /** Percent of the window's calls that were slow. */
  slowCallRate: number;
}

/** One queue on the ops page. */
export interface OpsQueue {
  name: string;
  /** Job counts by state (`waiting`, `active`, `delayed`, `failed`, `completed`, `dead`), or null when Redis did not answer. */
  counts: Record<string, number> | null;
  /** Mean time from enqueue to first attempt since start (s), from `queue_job_wait_seconds`; null without data. */
  meanWaitSeconds: number | null;
  /** Jobs dead-lettered since start, from `queue_jobs_dead_lettered_total`; null without metrics. */
  deadLettered: number | null;
  error: string | null;
}

/** What `GET <ops.path>/state` answers. A section is absent when its plugin is not registered. */
export interface OpsSnapshot {
  generatedAt: string;
  version: string;
  uptimeSeconds: number;
  status: OverallStatus;
  ready: boolean;
  shuttingDown: boolean;
  checks: Record<string, CheckReport>;
  breakers?: OpsBreaker[];
  rateLimits?: {
    store: string;
    inFallback: boolean;
    /** Decisions since start by outcome (`allowed`, `limited`, `fallback`); null without metrics. */
    decisions: Record<string, number> | null;
  };
  shedding?: {
    concurrencyLimit: number;
    inFlight: number;
    /** Requests shed since start, by reason; null without metrics. */
    shed: Record<string, number> | null;
  };
  pool?: { total: number; idle: number; active: number; waiting: number; max: number };
  queues?: { enabled: boolean; list: OpsQueue[] };
}

/** Longest the page's refresh waits on Redis for queue counts (BullMQ has its own bound too). */
const QUEUE_STATS_DEADLINE_MS = 1_000;

function decorator<T>(fastify: FastifyInstance, name: string): T | undefined {
  return fastify.hasDecorator(name) ? (fastify as unknown as Record<string, T>)[name] : undefined;
}

/** Sums a metric's samples by one label (or all into `total`); null when the family is absent. */
async function sumBy(
  metrics: MetricsLike | undefined,
  name: string,
  label: string | undefined,
  where: Record<string, string> = {},
): Promise<Record<string, number> | null> {
  const metric = metrics?.registry.getSingleMetric(`${metrics.prefix ?? ''}${name}`);
  if (!metric) return null;
  const sums: Record<string, number> = {};
  for (const sample of (await metric.get()).values) {
    if (Object.entries(where).some(([key, value]) => String(sample.labels[key]) !== value)) {
      continue;
    }
    const key = label === undefined ? 'total' : String(sample.labels[label] ?? '');
    sums[key] = (sums[key] ?? 0) + sample.value;
  }
  return sums;
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Redis within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function queueSection(
  queues: QueuesLike,
  metrics: MetricsLike | undefined,
): Promise<OpsQueue[]> {
  if (!queues.enabled) return [];
  const waitMetric = metrics?.registry.getSingleMetric(
    `${metrics.prefix ?? ''}queue_job_wait_seconds`,
  );
  // A histogram's values carry `metricName` (`…_sum`, `…_count`, `…_bucket`).
  const waits = waitMetric
    ? ((await waitMetric.get()).values as {
        value: number;
        labels: Record<string, string | number>;
        metricName?: string;
      }[])
    : undefined;
  const dead = await sumBy(metrics, 'queue_jobs_dead_lettered_total', 'queue');
  return Promise.all(
    queues.names().map(async (name): Promise<OpsQueue> => {
      let meanWaitSeconds: number | null = null;
      if (waits) {
        const of = (suffix: string) =>
          waits.find(
            (sample) => sample.labels.queue === name && sample.metricName?.endsWith(suffix),
          )?.value ?? 0;
        const count = of('_count');
        if (count > 0) meanWaitSeconds = of('_sum') / count;
      }
      const base = { name, meanWaitSeconds, deadLettered: dead ? (dead[name] ?? 0) : null };
      try {
        const counts = await withDeadline(queues.stats(name), QUEUE_STATS_DEADLINE_MS);
        const { inFlight: _inFlight, concurrency: _concurrency, ...byState } = counts;
        return { ...base, counts: byState, error: null };
      } catch (error) {
        return { ...base, counts: null, error: (error as Error).message };
      }
    }),
  );
}

/** Reads the ops page's state from the app: the check registry plus each discovered plugin. */
export async function opsSnapshot(
  fastify: FastifyInstance,
  registry: CheckRegistry,
  state: { version: string; ready: boolean; shuttingDown: boolean },
): Promise<OpsSnapshot> {
  const metrics = decorator<MetricsLike>(fastify, 'metrics');
  const snapshot: OpsSnapshot = {
    generatedAt: new Date().toISOString(),
    version: state.version,
    uptimeSeconds: Math.round(process.uptime()),
    status: registry.summary().status,
    ready: state.ready,
    shuttingDown: state.shuttingDown,
    checks: registry.report(),
  };
  const breakers = decorator<BreakersLike>(fastify, 'breakers');
  if (breakers) {
    snapshot.breakers = breakers.list().map((breaker) => {
      const window = breaker.snapshot();
      return {
        name: breaker.name,
        state: breaker.state,
        calls: window.calls,
        failureRate: window.failureRate,
        slowCallRate: window.slowCallRate,
      };
    });
  }
  const limits = decorator<LimitsLike>(fastify, 'limits');
  if (limits) {
    snapshot.rateLimits = {
      store: limits.store,
      inFallback: limits.inFallback,
      decisions: await sumBy(metrics, 'rate_limit_decisions_total', 'outcome'),
    };
    // concurrencyLimit is 0 only when shedding is off.
    if (limits.concurrencyLimit > 0) {
      snapshot.shedding = {
        concurrencyLimit: limits.concurrencyLimit,
        inFlight: limits.inFlight,
        shed: await sumBy(metrics, 'load_shedding_shed_total', 'reason'),
      };
    }
  }
  const db = decorator<DbLike>(fastify, 'db');
  if (db) {
    const pool = db.stats();
    snapshot.pool = { ...pool, active: pool.total - pool.idle };
  }
  const queues = decorator<QueuesLike>(fastify, 'queues');
  if (queues) {
    snapshot.queues = { enabled: queues.enabled, list: await queueSection(queues, metrics) };
  }
  return snapshot;
}
