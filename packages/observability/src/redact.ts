/** The value written in place of a redacted one. */
export const CENSOR = '[Redacted]';

/** Keys redacted by default (compared lower-cased, with `-` and `_` removed). */
export const DEFAULT_REDACT_KEYS = [
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'password',
  'passwd',
  'secret',
  'token',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'apikey',
  'xapikey',
  'clientsecret',
  'privatekey',
  'sessionid',
];

/** Lower-cases and drops `-`/`_`, so `Set-Cookie`, `set_cookie` and `setCookie` compare equal. */
export function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '');
}

/**
 * Decides, per object key, whether its value is a credential. Exact names from the list, plus any
 * key containing `password` or `secret` and any key ending in `token` or `apikey`
 * (`dbPassword`, `clientSecretValue`, `githubToken`, `stripe_api_key`).
 */
export class KeyMatcher {
  readonly #exact: Set<string>;
  readonly #cache = new Map<string, boolean>();

  constructor(extraKeys: readonly string[] = []) {
    this.#exact = new Set([...DEFAULT_REDACT_KEYS, ...extraKeys].map(normalizeKey));
  }

  matches(key: string): boolean {
    let hit = this.#cache.get(key);
    if (hit === undefined) {
      const k = normalizeKey(key);
      hit =
        this.#exact.has(k) ||
        k.includes('password') ||
        k.includes('secret') ||
        k.endsWith('token') ||
        k.endsWith('apikey');
      // Bounded: log keys are code, not data; a flood of distinct keys stops being cached.
      if (this.#cache.size < 10_000) this.#cache.set(key, hit);
    }
    return hit;
  }
}

/**
 * Returns `value` with every credential-named key replaced by `[Redacted]`, at any depth, in plain
 * objects, arrays and errors. Copy-on-write: objects with nothing to redact are returned as they
 * are (no allocation), and the caller's objects are never mutated. Cycles are left to pino's
 * serializer (it prints `[Circular]`).
 */
export function redactDeep(value: unknown, matcher: KeyMatcher, seen?: WeakSet<object>): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value) || value instanceof Date || value instanceof RegExp) return value;
  const visited = seen ?? new WeakSet<object>();
  if (visited.has(value)) return value;
  visited.add(value);

  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const next = redactDeep(item, matcher, visited);
      if (next !== item) {
        copy ??= value.slice();
        copy[i] = next;
      }
    }
    return copy ?? value;
  }

  let copy: Record<string, unknown> | undefined;
  const source = value as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    const item = source[key];
    const next =
      matcher.matches(key) && item !== undefined ? CENSOR : redactDeep(item, matcher, visited);
    if (next !== item) {
      copy ??= copyOf(source);
      copy[key] = next;
    }
  }
  return copy ?? value;
}

function copyOf(source: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...source };
  if (source instanceof Error) {
    // Spread drops an error's non-enumerable name/message/stack: keep them for the log line.
    copy.type ??= source.name;
    copy.message ??= source.message;
    copy.stack ??= source.stack;
  }
  return copy;
}
