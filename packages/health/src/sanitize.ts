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

/** Sanitises the string values of a check's details, a few levels deep. */
export function sanitizeDetails(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return sanitizeText(value);
  if (value === null || typeof value !== 'object' || depth > 3) {
    return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
  }
  if (Array.isArray(value))
    return value.slice(0, 50).map((item) => sanitizeDetails(item, depth + 1));
  if (value instanceof Date) return value.toISOString();
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? '[redacted]' : sanitizeDetails(item, depth + 1);
  }
  return out;
}

const SECRET_KEY = /password|passwd|secret|token|api[_-]?key|credential|connectionstring/i;
