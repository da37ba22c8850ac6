import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Bulkhead } from '@bulwark/resilience';
import { Piscina } from 'piscina';
import type { PasswordTask } from './password-worker.js';

/** libuv's thread pool size (`UV_THREADPOOL_SIZE`, default 4): the hashing budget follows it. */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const size = Number(env.UV_THREADPOOL_SIZE);
  return Number.isInteger(size) && size >= 1 ? Math.min(size, 1024) : 4;
}

/**
 * How many hashes run at once: the thread pool's size, but never more than the cores left
 * beside the event loop's (at least one). On 2 cores (or pinned to 1) that is one: four scrypt
 * threads sharing the event loop's core cost /hello a quarter of its goodput even at nice +19
 * (scrypt's 32 MiB per hash evicts the event loop's caches); one cost about a tenth.
 */
export function hashingConcurrency(env: NodeJS.ProcessEnv = process.env): number {
  return Math.min(threadPoolSize(env), Math.max(1, availableParallelism() - 1));
}

/** Hashing and verifying passwords within a budget of their own. */
export interface Passwords {
  /** `scrypt$N$salt$hash`, all base64url. */
  hash(password: string): Promise<string>;
  verify(password: string, stored: string): Promise<boolean>;
  /** Verifies against a hash of a password nobody has: the same work when an account is missing. */
  verifyDecoy(password: string): Promise<false>;
  readonly bulkhead: Bulkhead;
  close(): Promise<void>;
}

/**
 * Every scrypt call goes through a bulkhead from @bulwark/resilience ({@link hashingConcurrency}
 * at once, four waiting per hash) and then runs in a pool of worker threads
 * (piscina) at the lowest CPU priority (nice +19, through piscina's `niceIncrement`). Past the
 * bulkhead the call fails at once with BULWARK_RESILIENCE_BULKHEAD_FULL (503 + Retry-After).
 *
 * Why both: with scrypt in libuv's pool, twelve concurrent registrations queued in libuv (in
 * front of every fs and DNS call), each took seconds, the load shedder read that latency as
 * overload and answered 503 to cheap routes; and the hashing threads took the CPU from the
 * event loop as equals. Niced threads only get the CPU the event loop leaves, so cheap routes
 * keep their goodput while hashing saturates (bench scenario `api-hashing`).
 */
export async function createPasswords(
  options: { maxConcurrent?: number; maxQueue?: number } = {},
): Promise<Passwords> {
  const maxConcurrent = options.maxConcurrent ?? hashingConcurrency();
  // Four waiting per running hash: at ~100 ms a hash, a wait under half a second, and a
  // burst of a few registrations (a team signing up together) is served, not refused.
  const bulkhead = new Bulkhead({ maxConcurrent, maxQueue: options.maxQueue ?? 4 * maxConcurrent });
  const pool = new Piscina<PasswordTask, string | boolean>({
    filename: new URL('./password-worker.js', import.meta.url).href,
    minThreads: maxConcurrent,
    maxThreads: maxConcurrent,
    niceIncrement: 19,
    // The bulkhead is the queue: the pool never holds more than its threads (the margin
    // covers a thread that has answered but is not yet marked idle).
    maxQueue: maxConcurrent,
  });
  const run = (task: PasswordTask) => bulkhead.run(() => pool.run(task));
  const decoy = (await pool.run({
    op: 'hash',
    password: randomBytes(32).toString('hex'),
  })) as string;
  return {
    bulkhead,
    hash: async (password) => (await run({ op: 'hash', password })) as string,
    verify: async (password, stored) => (await run({ op: 'verify', password, stored })) as boolean,
    verifyDecoy: async (password) => {
      await run({ op: 'verify', password, stored: decoy });
      return false;
    },
    close: () => pool.destroy(),
  };
}
