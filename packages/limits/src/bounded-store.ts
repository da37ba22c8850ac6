import type { GcraPolicy } from './gcra.js';
import { MemoryStore } from './memory-store.js';
import type { RedisClientLike, RedisStore } from './redis-store.js';
import type { MultiDecision, RateLimitStore, StoreDecision, TierRequest } from './store.js';

/** The connection events and controls the bounded store needs (an ioredis client has them). */
export interface RedisConnectionLike extends RedisClientLike {
  status: string;
  on(event: 'close' | 'error' | 'ready', listener: (...args: unknown[]) => void): unknown;
  disconnect(reconnect?: boolean): void;
}

/** Options of {@link BoundedStore}. */
export interface BoundedStoreOptions {
  /** The Redis store; its client is replaced whenever the connection cannot be trusted. */
  redis: RedisStore;
  /** Opens a fresh dedicated connection (called once at start and after each reset). */
  connect: () => RedisConnectionLike;
  /** Deadline for one decision, in ms. */
  timeoutMs: number;
  /** How often to probe Redis while in fallback, in ms. */
  recoveryIntervalMs: number;
  /** Most keys of the fallback limiter. */
  maxKeys: number;
  /**
   * The recovery probe: resolves when Redis can decide again. @default reloads the script. With
   * Redis Cluster, pass one that also decides a key of the limiter's hash slot: SCRIPT LOAD goes
   * to any node and succeeds while the slot's master is down.
   */
  probe?: () => Promise<unknown>;
  /** Called once when an outage starts (first timeout, error or disconnect). */
  onOutage?: (error: Error) => void;
  /** Called once when shared limiting resumes. */
  onRecover?: () => void;
}

/** Thrown (internally) when Redis does not answer within the deadline. */
export class StoreTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`rate limit store did not answer within ${timeoutMs} ms`);
    this.name = 'StoreTimeoutError';
  }
}

/**
 * Redis with a deadline and a local guard. Every decision either comes from Redis within
 * `timeoutMs` or is made by a per-process GCRA with the same policy (fail-open to a local limit,
 * never to unlimited). The first failure opens an outage: later requests skip Redis entirely (no
 * waiting on a dead server), and a probe every `recoveryIntervalMs` reloads the script; when it
 * answers in time, shared limiting resumes by itself.
 *
 * After a timeout the connection is replaced by a new one: a reply that never came would
 * otherwise be matched to the next command (Redis replies in order), so a blackholed socket
 * cannot be trusted again. A brand-new client, rather than ioredis's own reconnect, also avoids
 * a client left 'ready' on an ended stream after a half-open handshake (seen with a blackhole).
 */
export class BoundedStore implements RateLimitStore {
  readonly fallback: MemoryStore;
  readonly #redis: RedisStore;
  readonly #connect: () => RedisConnectionLike;
  #connection: RedisConnectionLike;
  readonly #timeoutMs: number;
  readonly #recoveryIntervalMs: number;
  readonly #onOutage: ((error: Error) => void) | undefined;
  readonly #probeRedis: () => Promise<unknown>;
  readonly #onRecover: (() => void) | undefined;
  #down = false;
  #probe: NodeJS.Timeout | undefined;
  #probing = false;
  #stuckProbes = 0;
  #closed = false;

  constructor(options: BoundedStoreOptions) {
    this.#redis = options.redis;
    this.#connect = options.connect;
    this.#timeoutMs = options.timeoutMs;
    this.#recoveryIntervalMs = options.recoveryIntervalMs;
    this.#onOutage = options.onOutage;
    this.#probeRedis = options.probe ?? (() => this.#redis.load());
    this.#onRecover = options.onRecover;
    this.fallback = new MemoryStore({ maxKeys: options.maxKeys, source: 'fallback' });
    this.#connection = this.#open();
  }

  /** The connection in use now. */
  get connection(): RedisConnectionLike {
    return this.#connection;
  }

  #open(): RedisConnectionLike {
    const connection = this.#connect();
    // A listener is required, or ioredis prints every reconnect error; failures surface through
    // the outage callbacks instead.
    connection.on('error', () => {});
    connection.on('close', () => {
      if (!this.#closed && connection === this.#connection) {
        this.#fail(new Error('rate limit store connection closed'));
      }
    });
    this.#redis.client = connection;
    return connection;
  }

  #replace(): void {
    const old = this.#connection;
    this.#connection = this.#open();
    old.disconnect(false);
  }

  /** True while decisions are made locally. */
  get inFallback(): boolean {
    return this.#down;
  }

  decide(key: string, policy: GcraPolicy, nowUs?: number): StoreDecision | Promise<StoreDecision> {
    return this.#bounded(
      () => this.#redis.decide(key, policy, nowUs),
      () => this.fallback.decide(key, policy, nowUs),
    );
  }

  decideAll(tiers: readonly TierRequest[], nowUs?: number): MultiDecision | Promise<MultiDecision> {
    return this.#bounded(
      () => this.#redis.decideAll(tiers, nowUs),
      () => this.fallback.decideAll(tiers, nowUs),
    );
  }

  /** Redis within the deadline, or the local decision (synchronously while in an outage). */
  #bounded<T>(shared: () => Promise<T>, local: () => T): T | Promise<T> {
    if (this.#down) return local();
    if (this.#connection.status !== 'ready') {
      this.#fail(new Error(`rate limit store connection is ${this.#connection.status}`));
      return local();
    }
    return new Promise<T>((resolve) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.#fail(new StoreTimeoutError(this.#timeoutMs), true);
        resolve(local());
      }, this.#timeoutMs);
      shared().then(
        (decision) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(decision);
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.#fail(error instanceof Error ? error : new Error(String(error)));
          resolve(local());
        },
      );
    });
  }

  close(): void {
    this.#closed = true;
    if (this.#probe) clearInterval(this.#probe);
    this.#probe = undefined;
    this.#connection.disconnect(false);
  }

  #fail(error: Error, reset = false): void {
    if (this.#closed || this.#down) return;
    if (reset) this.#replace();
    this.#down = true;
    this.#stuckProbes = 0;
    this.#onOutage?.(error);
    this.#probe = setInterval(() => void this.#tryRecover(), this.#recoveryIntervalMs);
    this.#probe.unref();
  }

  async #tryRecover(): Promise<void> {
    if (this.#probing || this.#closed) return;
    const status = this.#connection.status;
    if (status !== 'ready') {
      // 'reconnecting'/'wait': ioredis is retrying on its own. 'connect'/'connecting' for long
      // means a half-open socket (a blackhole accepts the TCP handshake): start over.
      if ((status === 'connect' || status === 'connecting') && ++this.#stuckProbes >= 3) {
        this.#stuckProbes = 0;
        this.#replace();
      }
      return;
    }
    this.#probing = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#probeRedis(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new StoreTimeoutError(this.#timeoutMs)),
            this.#timeoutMs * 4,
          );
        }),
      ]);
      if (this.#closed || !this.#down) return;
      this.#down = false;
      if (this.#probe) clearInterval(this.#probe);
      this.#probe = undefined;
      this.fallback.clear();
      this.#onRecover?.();
    } catch {
      if (!this.#closed) this.#replace();
    } finally {
      clearTimeout(timer);
      this.#probing = false;
    }
  }
}
