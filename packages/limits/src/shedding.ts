import type { ServerResponse } from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AdaptiveConcurrencyLimit } from './concurrency-limit.js';
import { type CounterLike, counterFor, type MetricsLike } from './integrations.js';
import type { SheddingOptions } from './options.js';
import { kStoreWaitMs, type StoreWaitCarrier } from './store-wait.js';

/**
 * The body Fastify's error handler makes from `new OverloadedError(seconds)`, without building
 * the error (test/errors.test.ts keeps the two identical).
 */
export function overloadedBody(seconds: string): string {
  return `{"statusCode":503,"code":"BULWARK_LIMITS_OVERLOADED","error":"Service Unavailable","message":"The server is overloaded; retry after ${seconds} seconds"}`;
}

/** How the shedder treats a route: `sheddable` goes first, `critical` last. */
export type Priority = 'critical' | 'normal' | 'sheddable';

/** Why a request was shed. */
export type ShedReason = 'concurrency' | 'event_loop_delay' | 'event_loop_utilization' | 'heap';

export interface Shedder {
  readonly limit: number;
  readonly inFlight: number;
  /** The backstop tripped at the last sample, if any. */
  readonly overload: ShedReason | undefined;
  /**
   * The admission check for routes of this priority: true admits the request (and counts it in
   * flight until its response closes), false means a 503 was sent.
   */
  gate(priority: Priority): (request: FastifyRequest, reply: FastifyReply) => boolean;
  close(): void;
}

/** What the shedder keeps about one admitted request, on its raw response. */
interface Admission {
  readonly request: FastifyRequest;
  /** performance.now() at admission. */
  readonly admitted: number;
  /** Service time of the admitted requests that finished before it in its batch (ms). */
  readonly ahead: number;
  /** The concurrency it was admitted at (itself included). */
  readonly used: number;
  readonly batch: number;
}

const kAdmission = Symbol('bulwark.limits.admission');
type TrackedResponse = { [kAdmission]?: Admission };

/**
 * Load shedding in front of every route but probes. Concurrency is counted so that synchronous
 * handlers count too: a request that finished in the same event-loop batch as a later one still
 * delayed it (Node runs the requests one socket read at a time), so the count is requests in
 * flight plus requests of the current batch already finished, and that count is also what the
 * limiter is told the limit was used to.
 *
 * A request's latency sample is its own service time plus the service time of the admitted
 * requests that finished before it in the same batch: the wait behind admitted work. Time spent
 * before onRequest (in the socket, behind other event-loop work) and behind the 503s of the same
 * batch is left out on purpose: under overload it is mostly the cost of shedding, and lowering
 * the limit cannot reduce it (an open-loop arrival gets a 503 instead), so counting it made the
 * limit fall further the more was shed, down to a fraction of capacity.
 */
export function createShedder(fastify: FastifyInstance, options: SheddingOptions): Shedder {
  const limiter = new AdaptiveConcurrencyLimit(options);
  let inFlight = 0;
  let batch = 0;
  // Service time (ms) of the admitted requests of the current batch that already finished: the
  // wait a request admitted now has behind admitted work, when the handlers are synchronous.
  let batchWork = 0;
  let batchArmed = false;
  let finishedInBatch = 0;
  let overload: ShedReason | undefined;
  const endBatch = () => {
    batchArmed = false;
  };

  const metrics = fastify.hasDecorator('metrics')
    ? (fastify as unknown as { metrics: MetricsLike }).metrics
    : undefined;
  const limitGauge = metrics?.gauge({
    name: 'load_shedding_concurrency_limit',
    help: 'The adaptive concurrency limit (requests in flight)',
    collect() {
      (this as unknown as { set(value: number): void }).set(limiter.limit);
    },
  });
  const inFlightGauge = metrics?.gauge({
    name: 'load_shedding_in_flight',
    help: 'Requests in flight, as the load shedder counts them',
    collect() {
      (this as unknown as { set(value: number): void }).set(inFlight);
    },
  });
  void limitGauge;
  void inFlightGauge;
  const shedCounter: CounterLike | undefined = metrics?.counter({
    name: 'load_shedding_shed_total',
    help: 'Requests answered 503 by the load shedder, by route priority and reason',
    labelNames: ['priority', 'reason'],
  });
  const shedCount = new Map<string, () => void>();
  const countShed = (priority: Priority, reason: ShedReason) => {
    if (!shedCounter) return;
    const id = `${priority}|${reason}`;
    let inc = shedCount.get(id);
    if (!inc) {
      inc = counterFor(shedCounter, { priority, reason });
      shedCount.set(id, inc);
    }
    inc();
  };

  // Static backstops, sampled off the request path.
  const delay =
    options.maxEventLoopDelayMs > 0 ? monitorEventLoopDelay({ resolution: 10 }) : undefined;
  delay?.enable();
  let elu = performance.eventLoopUtilization();
  const sampler = setInterval(() => {
    let reason: ShedReason | undefined;
    if (delay) {
      const ms = Math.max(0, delay.percentile(99) / 1e6 - 10);
      delay.reset();
      if (ms > options.maxEventLoopDelayMs) reason = 'event_loop_delay';
    }
    if (!reason && options.maxEventLoopUtilization > 0) {
      const now = performance.eventLoopUtilization();
      const used = performance.eventLoopUtilization(now, elu).utilization;
      elu = now;
      if (used > options.maxEventLoopUtilization) reason = 'event_loop_utilization';
    }
    if (
      !reason &&
      options.maxHeapUsedBytes > 0 &&
      process.memoryUsage().heapUsed > options.maxHeapUsedBytes
    ) {
      reason = 'heap';
    }
    overload = reason;
  }, options.sampleIntervalMs);
  sampler.unref();
  // Startup (loading modules, compiling schemas, running migrations) may block the event loop
  // for seconds on a busy machine; that is not overload, and counting it answered the first
  // requests after listen 503 until the next sample. Forget what was seen before ready.
  fastify.addHook('onReady', (done) => {
    delay?.reset();
    elu = performance.eventLoopUtilization();
    overload = undefined;
    done();
  });

  const retryAfter = String(options.retryAfterSeconds);
  // Sent directly, not thrown: a shed request must cost as little as possible (no Error with a
  // stack, no error handler, no error log line per request while overloaded). The body is exactly
  // what the error handler would produce from OverloadedError.
  const shedBody = overloadedBody(retryAfter);
  const shedHeaders = {
    'retry-after': retryAfter,
    'content-type': 'application/json; charset=utf-8',
  };
  function shed(reply: FastifyReply, priority: Priority, reason: ShedReason): void {
    countShed(priority, reason);
    reply.code(503).headers(shedHeaders).send(shedBody);
  }

  // One listener per admitted request, shared (no closure): the raw response emits 'close' once,
  // after the response is written or when the connection drops first, so it covers both the
  // onResponse and the onRequestAbort case and costs less than either hook (onResponse alone adds
  // two listeners and a closure per request unless another plugin already pays for them).
  function finish(this: TrackedResponse): void {
    const admission = this[kAdmission];
    if (admission === undefined) return;
    this[kAdmission] = undefined;
    inFlight -= 1;
    const now = performance.now();
    // The wait on the shared rate-limit store is not this process's work: it is bounded by
    // storeTimeoutMs and watched by the store's own fallback. Counted, a Redis round trip that
    // grows under CPU contention (or while the process answers 503s) would cut the limit, which
    // sheds more, which slows the round trip: the feedback that collapsed the Redis-store bench.
    const waited = (admission.request as StoreWaitCarrier)[kStoreWaitMs] ?? 0;
    const service = Math.max(0, now - admission.admitted - waited);
    if (admission.batch === batch) {
      finishedInBatch += 1;
      batchWork += service;
    }
    limiter.addSample(service + admission.ahead, admission.used, now, service);
  }

  function gate(priority: Priority) {
    const share = priority === 'sheddable' ? 0.75 : 1;
    return function bulwarkShed(request: FastifyRequest, reply: FastifyReply): boolean {
      const now = performance.now();
      if (!batchArmed) {
        batchArmed = true;
        batch += 1;
        batchWork = 0;
        finishedInBatch = 0;
        setImmediate(endBatch);
      }
      const limit = limiter.limit;
      const ceiling =
        priority === 'critical'
          ? Math.max(limit + 1, Math.ceil(limit * 1.5))
          : Math.max(1, limit * share);
      const used = inFlight + finishedInBatch;
      if (used >= ceiling) {
        shed(reply, priority, 'concurrency');
        return false;
      }
      if (overload !== undefined && priority !== 'critical') {
        shed(reply, priority, overload);
        return false;
      }
      inFlight += 1;
      const raw = reply.raw as unknown as TrackedResponse & ServerResponse;
      raw[kAdmission] = { request, admitted: now, ahead: batchWork, used: used + 1, batch };
      raw.on('close', finish);
      return true;
    };
  }
  const gates = {
    critical: gate('critical'),
    normal: gate('normal'),
    sheddable: gate('sheddable'),
  };

  return {
    get limit() {
      return limiter.limit;
    },
    get inFlight() {
      return inFlight;
    },
    get overload() {
      return overload;
    },
    gate(priority) {
      return gates[priority];
    },
    close() {
      clearInterval(sampler);
      delay?.disable();
    },
  };
}
