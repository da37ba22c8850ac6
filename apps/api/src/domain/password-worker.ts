import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

// Runs in the hashing pool's worker threads (see passwords.ts): synchronous scrypt, so the work
// happens on this low-priority thread and not in libuv's shared pool.
// scrypt from node:crypto: no native addon to build, parameters per OWASP's scrypt guidance.
const N = 2 ** 15;
const r = 8;
const p = 1;
const keyLength = 64;
const maxmem = 64 * 1024 * 1024;
/** The cost parameters a stored hash may ask for: never more work or memory than we chose. */
const MAX_COST = N;

export type PasswordTask =
  | { op: 'hash'; password: string }
  | { op: 'verify'; password: string; stored: string };

function derive(password: string, salt: Buffer, cost: number): Buffer {
  return scryptSync(password, salt, keyLength, { N: cost, r, p, maxmem });
}

/** `scrypt$N$salt$hash`, all base64url: self-describing so the cost can be raised later. */
function hash(password: string): string {
  const salt = randomBytes(16);
  const key = derive(password, salt, N);
  return `scrypt$${N}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

function verify(password: string, stored: string): boolean {
  const [scheme, costText, salt, digest] = stored.split('$');
  const cost = Number(costText);
  if (scheme !== 'scrypt' || !salt || !digest) return false;
  if (!Number.isInteger(cost) || cost < 2 || cost > MAX_COST) return false;
  const expected = Buffer.from(digest, 'base64url');
  const actual = derive(password, Buffer.from(salt, 'base64url'), cost);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export default function run(task: PasswordTask): string | boolean {
  return task.op === 'hash' ? hash(task.password) : verify(task.password, task.stored);
}
