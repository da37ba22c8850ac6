import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { Bulkhead } from '@bulwark/resilience';

// scrypt from node:crypto: no native addon to build, parameters per OWASP's scrypt guidance.
const N = 2 ** 15;
const r = 8;
const p = 1;
const keyLength = 64;
const maxmem = 64 * 1024 * 1024;

function derive(password: string, salt: Buffer, cost = N): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, { N: cost, r, p, maxmem }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

async function hash(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt);
  return `scrypt$${N}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

async function verify(password: string, stored: string): Promise<boolean> {
  const [scheme, cost, salt, digest] = stored.split('$');
  if (scheme !== 'scrypt' || !cost || !salt || !digest) return false;
  const expected = Buffer.from(digest, 'base64url');
  const actual = await derive(password, Buffer.from(salt, 'base64url'), Number(cost));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** libuv's thread pool, where scrypt runs: `UV_THREADPOOL_SIZE` or libuv's default of 4. */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const size = Number(env.UV_THREADPOOL_SIZE);
  return Number.isInteger(size) && size >= 1 ? Math.min(size, 1024) : 4;
}

/** Hashing and verifying passwords within a budget: at most one scrypt per pool thread. */
export interface Passwords {
  /** `scrypt$N$salt$hash`, all base64url: self-describing so the cost can be raised later. */
  hash(password: string): Promise<string>;
  verify(password: string, stored: string): Promise<boolean>;
  /** Verifies against a hash of a password nobody has: the same work when an account is missing. */
  verifyDecoy(password: string): Promise<false>;
  readonly bulkhead: Bulkhead;
}

/**
 * Every scrypt call goes through a bulkhead sized to the thread pool with a short queue. Past
 * it the call fails at once with BULWARK_RESILIENCE_BULKHEAD_FULL (503 + Retry-After): twelve
 * concurrent registrations would otherwise queue in libuv behind each other (and in front of
 * every fs and DNS call), each taking seconds, and the load shedder would read that latency as
 * overload of the whole server.
 */
export async function createPasswords(
  options: { maxConcurrent?: number; maxQueue?: number } = {},
): Promise<Passwords> {
  const maxConcurrent = options.maxConcurrent ?? threadPoolSize();
  const bulkhead = new Bulkhead({ maxConcurrent, maxQueue: options.maxQueue ?? maxConcurrent });
  const decoy = await hash(randomBytes(32).toString('hex'));
  return {
    bulkhead,
    hash: (password) => bulkhead.run(() => hash(password)),
    verify: (password, stored) => bulkhead.run(() => verify(password, stored)),
    verifyDecoy: async (password) => {
      await bulkhead.run(() => verify(password, decoy));
      return false;
    },
  };
}
