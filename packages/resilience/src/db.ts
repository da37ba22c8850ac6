import pg from 'pg';
import type { Breaker } from './breaker.js';
import { sendCancelRequest } from './cancel-request.js';
import {
  checkoutError,
  isRetryableStatement,
  isRetryableTransaction,
  notSent,
  publicError,
  statementError,
} from './db-errors.js';
import { DbClosedError } from './errors.js';
import type { HealthLike, MetricsLike } from './integration.js';
import type { ResolvedDbOptions } from './options.js';
import { runDetached } from './request-deadline.js';
import { retry } from './retry.js';
import type { RetryBudget } from './retry-budget.js';

/** Options of one `fastify.db.query` call. */
export interface QueryOptions {
  /** The statement may run twice without harm: retry it on any transient error, even mid-flight. @default false */
  idempotent?: boolean;
  /** Aborts the call (and its retries); a checked-out connection is discarded. */
  signal?: AbortSignal;
}

/** Options of one `fastify.db.transaction` call. */
export interface TransactionOptions {
  /** @default the server's default (read committed) */
  isolationLevel?: 'serializable' | 'repeatable read' | 'read committed';
  readOnly?: boolean;
  signal?: AbortSignal;
}

/** What a transaction body receives: a connection inside BEGIN … COMMIT. */
export type TransactionClient = Pick<pg.PoolClient, 'query'>;

/** Pool occupancy, as in the `db_pool_connections`, `db_pool_max_connections` and `db_pool_pending_requests` gauges. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

/** Minimal logger (Fastify's). */
export interface LoggerLike {
  warn(object: object, message?: string): void;
  debug(object: object, message?: string): void;
}

// pg's Client ends a connection gracefully (Terminate, then waits for the server's FIN) unless a
// query is active; on a partitioned network that wait never ends, so the socket is destroyed.
function destroySocket(client: pg.PoolClient): void {
  (
    client as unknown as { connection?: { stream?: { destroy(): void } } }
  ).connection?.stream?.destroy();
}

type Attempt<T> = (client: pg.PoolClient, signal: AbortSignal) => Promise<T>;

/**
 * `fastify.db`: a `pg.Pool` whose calls go through the `postgres` circuit breaker, retry only
 * where it is safe, tell "pool exhausted" from "database unavailable", and heal by themselves
 * (a background `SELECT 1` runs the half-open trials while the breaker is not closed).
 */
export class ResilientDb {
  /** The underlying pool, for pg APIs not wrapped here. Calls made on it bypass the breaker. */
  readonly pool: pg.Pool;
  readonly breaker: Breaker;
  readonly #options: ResolvedDbOptions;
  readonly #budget: RetryBudget;
  readonly #log: LoggerLike;
  #probeTimer: NodeJS.Timeout | undefined;
  #probing = false;
  #closed = false;

  constructor(options: ResolvedDbOptions, breaker: Breaker, budget: RetryBudget, log: LoggerLike) {
    this.#options = options;
    this.breaker = breaker;
    this.#budget = budget;
    this.#log = log;
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      min: options.min,
      max: options.max,
      // A connection attempt that outlives the call's deadline would hold a pool slot for nobody
      // (on a partitioned network it never completes), so it is bounded by that deadline too.
      connectionTimeoutMillis:
        options.queryTimeoutMillis > 0
          ? Math.min(options.connectionTimeoutMillis, options.queryTimeoutMillis)
          : options.connectionTimeoutMillis,
      idleTimeoutMillis: options.idleTimeoutMillis,
      maxLifetimeSeconds: options.maxLifetimeSeconds,
      keepAlive: options.keepAlive,
      keepAliveInitialDelayMillis: options.keepAliveInitialDelayMillis,
      ...(options.statementTimeoutMillis > 0
        ? { statement_timeout: options.statementTimeoutMillis }
        : {}),
    });
    // An idle client's error (server restart, pg_terminate_backend, network cut) is emitted on
    // the pool; without a listener it would crash the process.
    this.pool.on('error', (error) => {
      this.#log.warn({ err: error }, 'postgres: an idle pooled connection failed and was removed');
    });
    // A checked-out client's error must not crash either; the statement that runs on it fails.
    this.pool.on('connect', (client) => {
      client.on('error', (error) => {
        this.#log.debug({ err: error }, 'postgres: a connection in use failed');
      });
    });
    breaker.on('state', (state) => {
      if (state === 'closed') this.#stopProbe();
      else this.#startProbe(state === 'half-open');
    });
  }

  /** Pool occupancy now. */
  stats(): PoolStats {
    return {
      total: this.pool.totalCount,
      idle: this.pool.idleCount,
      waiting: this.pool.waitingCount,
      max: this.#options.max,
    };
  }

  // pg-pool keeps clients that are still connecting in its (private) client list; pg's Client
  // flags them with `_connecting`. Both are internals, read defensively.
  #hasConnectingClient(): boolean {
    const clients = (this.pool as unknown as { _clients?: Array<{ _connecting?: boolean }> })
      ._clients;
    return Array.isArray(clients) && clients.some((client) => client._connecting === true);
  }

  // Checks out a client; on abort, rejects at once and gives the client back when it arrives.
  #checkout(signal: AbortSignal): Promise<pg.PoolClient> {
    const pending = this.pool.connect();
    return new Promise<pg.PoolClient>((resolve, reject) => {
      const onAbort = () => {
        reject(signal.reason);
        pending.then(
          (client) => client.release(),
          () => undefined,
        );
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      pending.then(
        (client) => {
          signal.removeEventListener('abort', onAbort);
          if (!signal.aborted) resolve(client);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(checkoutError(error, this.#hasConnectingClient()));
        },
      );
    });
  }

  // One attempt: checkout, run, release. A broken or abandoned connection is destroyed.
  async #attempt<T>(signal: AbortSignal, run: Attempt<T>): Promise<T> {
    if (this.#closed) throw new DbClosedError();
    const client = await this.#checkout(signal);
    let released = false;
    const release = (error?: Error) => {
      if (released) return;
      released = true;
      client.release(error);
    };
    // A timed-out or abandoned call: the server is told to cancel the statement (it would run on
    // for nobody otherwise), and the connection is destroyed, never returned to the pool: on a
    // silent socket its reply may never come, and a late one would confuse the next user.
    const onAbort = () => {
      void sendCancelRequest(client);
      release(new Error('postgres call aborted'));
      destroySocket(client);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await run(client, signal);
      release();
      return result;
    } catch (error) {
      const classified = statementError(error);
      release(classified !== error ? (classified as Error) : undefined);
      throw classified;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async #call<T>(
    run: Attempt<T>,
    retryable: (error: unknown) => boolean,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    if (this.#closed) throw new DbClosedError();
    try {
      return await retry(
        ({ signal: attemptSignal }) =>
          this.breaker.fire((callSignal) => this.#attempt(callSignal, run), attemptSignal),
        {
          attempts: this.#options.retryAttempts,
          budget: this.#budget,
          baseDelayMs: 50,
          maxDelayMs: 1000,
          signal,
          retryable,
        },
      );
    } catch (error) {
      throw publicError(error);
    }
  }

  /**
   * Runs one statement through the breaker. Retried when it never reached the server, or on
   * any transient error when `idempotent`. Fails with `BULWARK_DB_UNAVAILABLE` (503) when
   * Postgres cannot be reached or the breaker is open, `BULWARK_DB_POOL_EXHAUSTED` (503) when no
   * pooled connection freed up in time; a query's own error (syntax, constraint) passes through.
   */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    params?: unknown[],
    options: QueryOptions = {},
  ): Promise<pg.QueryResult<R>> {
    const idempotent = options.idempotent === true;
    return this.#call(
      (client) => client.query<R>(text, params),
      (error) => isRetryableStatement(error, idempotent),
      options.signal,
    );
  }

  /**
   * Runs `fn` inside BEGIN … COMMIT on one connection, through the breaker. The whole
   * transaction is retried on serialization failure (40001), deadlock (40P01), or when it
   * could not start; so `fn` must be safe to run again (no outside side effects).
   */
  transaction<T>(
    fn: (client: TransactionClient) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    const begin = [
      'BEGIN',
      options.isolationLevel ? `ISOLATION LEVEL ${options.isolationLevel.toUpperCase()}` : '',
      options.readOnly ? 'READ ONLY' : '',
    ]
      .filter(Boolean)
      .join(' ');
    return this.#call(
      async (client) => {
        try {
          await client.query(begin);
        } catch (error) {
          // Nothing ran yet, so a connection failure here is always safe to retry.
          const classified = statementError(error);
          if (classified !== error) (classified as { [notSent]?: boolean })[notSent] = true;
          throw classified;
        }
        try {
          const result = await fn(client);
          await client.query('COMMIT');
          return result;
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
      },
      isRetryableTransaction,
      options.signal,
    );
  }

  #startProbe(now: boolean): void {
    if (this.#closed) return;
    // The probe is background work: started while some request is handled (a breaker that trips
    // inside a call), it must not inherit that request's deadline or cancellation.
    runDetached(() => {
      if (!this.#probeTimer) {
        this.#probeTimer = setInterval(() => void this.probe(), this.#options.probeIntervalMillis);
        this.#probeTimer.unref();
      }
      if (now) void this.probe();
    });
  }

  #stopProbe(): void {
    if (this.#probeTimer) clearInterval(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  /**
   * Runs the half-open trials with `SELECT 1` so the breaker can close without user traffic.
   * Does nothing unless the breaker is half-open. Returns the breaker's state afterwards.
   */
  async probe(): Promise<string> {
    if (this.#probing || this.#closed) return this.breaker.state;
    this.#probing = true;
    try {
      // Bounded: a trial that says nothing (a busy pool) frees its slot without a decision.
      for (
        let run = 0;
        run < this.breaker.options.halfOpenTrials * 2 && this.breaker.state === 'half-open';
        run++
      ) {
        try {
          await this.breaker.fire((signal) =>
            this.#attempt(signal, (client) => client.query('SELECT 1')),
          );
        } catch (error) {
          this.#log.debug({ err: error }, 'postgres: probe failed');
          break;
        }
      }
    } finally {
      this.#probing = false;
    }
    return this.breaker.state;
  }

  /** Registers the pool gauges and the `postgres` health check. */
  observe(metrics: MetricsLike | undefined, health: HealthLike | undefined): void {
    if (metrics) {
      // The OpenTelemetry database-client convention's shape (connection count by state, the
      // maximum, pending requests): `sum(db_pool_connections)` is the pool's size.
      const pool = this.pool;
      metrics.gauge({
        name: 'db_pool_connections',
        help: 'Connections the Postgres pool holds, by state: idle, or active (checked out)',
        labelNames: ['state'],
        collect() {
          this.set({ state: 'idle' }, pool.idleCount);
          this.set({ state: 'active' }, pool.totalCount - pool.idleCount);
        },
      });
      const max = this.#options.max;
      metrics.gauge({
        name: 'db_pool_max_connections',
        help: 'Connections the Postgres pool may open at most (its max option)',
        collect() {
          this.set(max);
        },
      });
      metrics.gauge({
        name: 'db_pool_pending_requests',
        help: 'Calls waiting for a Postgres connection from the pool',
        collect() {
          this.set(pool.waitingCount);
        },
      });
    }
    health?.register({
      name: 'postgres',
      critical: this.#options.critical,
      tags: ['db'],
      check: async (signal) => {
        await this.query('SELECT 1', [], { idempotent: true, signal });
        return { pool: this.stats(), breaker: this.breaker.state };
      },
    });
  }

  /** Stops the probe and drains the pool (the plugin calls this in onClose). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopProbe();
    await this.pool.end();
  }
}
