// Turns whatever a check threw into a message safe to show on a health endpoint: no connection
// strings (they carry users, passwords, hosts), no key=value secrets, no bearer tokens, no stack.

const MAX_LENGTH = 300;

// scheme://anything-up-to-whitespace — the whole URL goes, not only its userinfo: hosts and
// database names are internal detail too, and a password with an unescaped '@' or '/' would
// defeat any finer-grained pattern.
const URL_PATTERN = /\b([a-z][a-z0-9+.-]{1,30}):\/\/[^\s'"<>]+/gi;
// libpq / ODBC style `password=secret`, JSON-ish `"token": "x"`, query-string `apikey=x`.
const SECRET_PAIR_PATTERN =
  /\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|auth|authorization|credentials?)(["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s;,&'"]+)/gi;
const BEARER_PATTERN = /\b(bearer|basic)\s+[a-z0-9._~+/=-]+/gi;
// An inline stack frame ("    at fn (file:1:2)") and everything after it.
const STACK_PATTERN = /\n\s*at\s[\s\S]*$/;

/** Redacts credentials and connection strings from one line of text. */
export function sanitizeText(text: string): string {
  let out = text.replace(STACK_PATTERN, '');
  out = out.replace(URL_PATTERN, (_match, scheme: string) => `${scheme}://[redacted]`);
  out = out.replace(BEARER_PATTERN, (_match) => `${_match.split(/\s/)[0]} [redacted]`);
  out = out.replace(
    SECRET_PAIR_PATTERN,
    (_match, key: string, sep: string) => `${key}${sep}[redacted]`,
  );
  out = out.replace(/\s+/g, ' ').trim();
  return out.length > MAX_LENGTH ? `${out.slice(0, MAX_LENGTH - 1)}…` : out;
}

/** A short, safe description of why a check failed. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    let message = error.message;
    // Node's happy-eyeballs connect failure is an AggregateError with an empty message.
    if (!message && error instanceof AggregateError) {
      message = error.errors
        .map((inner: unknown) => (inner instanceof Error ? inner.message : String(inner)))
        .join('; ');
    }
    if (!message) message = typeof code === 'string' ? code : error.name;
    return sanitizeText(message);
  }
  if (typeof error === 'string') return sanitizeText(error);
  return 'check failed';
}

/**
 * Sanitises the string values of a check's details at any depth: every string is redacted and
 * every secret-named key is masked, however deeply nested (a cut-off depth would show a secret
 * one level further down verbatim). Cycles become '[circular]'; arrays keep their first 50 items.
 */
export function sanitizeDetails(value: unknown, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return sanitizeText(value);
  if (value === null || typeof value !== 'object') {
    return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
  }
  if (value instanceof Date) return value.toISOString();
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  let out: unknown;
  if (Array.isArray(value)) {
    out = value.slice(0, 50).map((item) => sanitizeDetails(item, seen));
  } else {
    const object: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      object[key] = SECRET_KEY.test(key) ? '[redacted]' : sanitizeDetails(item, seen);
    }
    out = object;
  }
  // Only the current path counts as a cycle: the same object twice side by side is shown twice.
  seen.delete(value);
  return out;
}

const SECRET_KEY = /password|passwd|secret|token|api[_-]?key|credential|connectionstring/i;
