import { Breaker, type BreakerOptions, type BreakerState } from './breaker.js';
import { Bulkhead, type BulkheadOptions } from './bulkhead.js';
import { BreakerExistsError } from './errors.js';
import type { CounterLike, GaugeLike, HealthLike, MetricsLike } from './integration.js';
import { currentDeadline, type RequestDeadline } from './request-deadline.js';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.js';

const STATES: readonly BreakerState[] = ['closed', 'half-open', 'open'];

interface Metrics {
  state: GaugeLike;
  calls: CounterLike;
  retries: CounterLike;
  exhausted: CounterLike;
  inUse: GaugeLike;
  queued: GaugeLike;
  bulkheadRejected: CounterLike;
}

function createMetrics(metrics: MetricsLike): Metrics {
  return {
    state: metrics.gauge({
      name: 'circuit_breaker_state',
      help: 'Circuit breaker state: one series per state (closed, half-open, open), 1 for the current one, 0 for the others',
      labelNames: ['breaker', 'state'],
    }),
    calls: metrics.counter({
      name: 'circuit_breaker_calls_total',
      help: 'Calls through a circuit breaker by outcome: success, failure, timeout, slow, rejected',
      labelNames: ['breaker', 'outcome'],
    }),
    retries: metrics.counter({
      name: 'retry_attempts_total',
      help: 'Retries (attempts after the first) made against a dependency',
      labelNames: ['dependency'],
    }),
    exhausted: metrics.counter({
      name: 'retry_budget_exhausted_total',
      help: 'Retries denied because the dependency retry budget was spent',
      labelNames: ['dependency'],
    }),
    inUse: metrics.gauge({
      name: 'bulkhead_in_use',
      help: 'Calls running inside a bulkhead',
      labelNames: ['bulkhead'],
    }),
    queued: metrics.gauge({
      name: 'bulkhead_queued',
      help: 'Calls waiting for a bulkhead slot',
      labelNames: ['bulkhead'],
    }),
    bulkheadRejected: metrics.counter({
      name: 'bulkhead_rejected_total',
      help: 'Calls a full bulkhead rejected',
      labelNames: ['bulkhead'],
    }),
  };
}

/** Integrations the registry wires each breaker, budget and bulkhead into. */
export interface RegistryIntegrations {
  metrics?: MetricsLike | undefined;
  health?: HealthLike | undefined;
}

/**
 * `fastify.breakers`: named circuit breakers, each with metrics and a health check, plus the
 * per-dependency retry budgets and bulkheads wired to the same metrics.
 */
export class BreakerRegistry {
  readonly #breakers = new Map<string, Breaker>();
  readonly #budgets = new Map<string, RetryBudget>();
  readonly #bulkheads = new Map<string, Bulkhead>();
  readonly #defaults: BreakerOptions;
  readonly #budgetDefaults: RetryBudgetOptions;
  readonly #metrics: Metrics | undefined;
  readonly #health: HealthLike | undefined;

  constructor(
    defaults: BreakerOptions = {},
    budgetDefaults: RetryBudgetOptions = {},
    integrations: RegistryIntegrations = {},
  ) {
    this.#defaults = defaults;
    this.#budgetDefaults = budgetDefaults;
    this.#metrics = integrations.metrics ? createMetrics(integrations.metrics) : undefined;
    this.#health = integrations.health;
  }

  /**
   * The deadline of the request being handled in the calling async context (its `signal` and
   * `remainingMs()`), or undefined outside a request. Other plugins (`@bulwark/queue`'s `add()`)
   * discover it here to bound their own calls by the request's budget.
   */
  currentDeadline(): RequestDeadline | undefined {
    return currentDeadline();
  }

  /** The breaker with this name, or undefined. */
  get(name: string): Breaker | undefined {
    return this.#breakers.get(name);
  }

  /** True when a breaker with this name exists. */
  has(name: string): boolean {
    return this.#breakers.has(name);
  }

  /** Every breaker, in creation order. */
  list(): Breaker[] {
    return [...this.#breakers.values()];
  }

  /**
   * Creates a named breaker (plugin defaults, then `options`), registers its metrics and its
   * health check `breaker:<name>`. Throws `BULWARK_RESILIENCE_BREAKER_EXISTS` for a taken name.
   */
  create(name: string, options: BreakerOptions = {}): Breaker {
    if (this.#breakers.has(name)) throw new BreakerExistsError(name);
    const breaker = new Breaker(name, { ...this.#defaults, ...options });
    this.#breakers.set(name, breaker);
    const metrics = this.#metrics;
    if (metrics) {
      const setState = (current: BreakerState) => {
        for (const state of STATES) {
          metrics.state.set({ breaker: name, state }, state === current ? 1 : 0);
        }
      };
      setState(breaker.state);
      breaker.on('state', setState);
      breaker.on('call', (outcome) => metrics.calls.inc({ breaker: name, outcome }));
    }
    this.#health?.register({
      name: `breaker:${name}`,
      critical: breaker.options.critical,
      tags: ['breaker'],
      check: async () => {
        const snapshot = breaker.snapshot();
        if (breaker.state === 'open') {
          throw new Error(
            `circuit breaker ${name} is open (${breaker.lastTripReason ?? 'tripped'}); half-open in ${Math.ceil(breaker.msUntilHalfOpen / 1000)} s`,
          );
        }
        return snapshot;
      },
    });
    return breaker;
  }

  /** The retry budget of a dependency (created on first use), counted in the retry metrics. */
  retryBudget(dependency: string, options: RetryBudgetOptions = {}): RetryBudget {
    let budget = this.#budgets.get(dependency);
    if (budget) return budget;
    const metrics = this.#metrics;
    budget = new RetryBudget(
      { ...this.#budgetDefaults, ...options },
      metrics && {
        onRetry: () => metrics.retries.inc({ dependency }),
        onExhausted: () => metrics.exhausted.inc({ dependency }),
      },
    );
    this.#budgets.set(dependency, budget);
    return budget;
  }

  /** The bulkhead with this name (created on first use with `options`), with in-use/queued gauges. */
  bulkhead(name: string, options: BulkheadOptions = {}): Bulkhead {
    let bulkhead = this.#bulkheads.get(name);
    if (bulkhead) return bulkhead;
    const metrics = this.#metrics;
    bulkhead = new Bulkhead(
      options,
      metrics && {
        onChange: (inUse, queued) => {
          metrics.inUse.set({ bulkhead: name }, inUse);
          metrics.queued.set({ bulkhead: name }, queued);
        },
        onReject: () => metrics.bulkheadRejected.inc({ bulkhead: name }),
      },
    );
    this.#bulkheads.set(name, bulkhead);
    if (metrics) {
      metrics.inUse.set({ bulkhead: name }, 0);
      metrics.queued.set({ bulkhead: name }, 0);
    }
    return bulkhead;
  }

  /** Stops every breaker's timers (called from the plugin's onClose). */
  close(): void {
    for (const breaker of this.#breakers.values()) breaker.shutdown();
  }
}
