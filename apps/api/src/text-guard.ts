import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidTextError } from './errors.js';

/**
 * The first string (value or key) in `value` that PostgreSQL cannot store as sent, as a path
 * like `body/title`: a NUL character (text columns refuse it: SQLSTATE 22021) or an unpaired
 * UTF-16 surrogate (JSON allows `"\ud800"`; UTF-8 cannot encode it, so the driver would
 * silently store U+FFFD instead). Iterative, so a deeply nested body cannot overflow the stack.
 */
export function findInvalidText(value: unknown, root: string): string | undefined {
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0) {
    const [current, path] = stack.pop()!;
    if (typeof current === 'string') {
      if (!isStorableText(current)) return path;
    } else if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index -= 1) {
        stack.push([current[index], `${path}/${index}`]);
      }
    } else if (current !== null && typeof current === 'object') {
      for (const key of Object.keys(current)) {
        if (!isStorableText(key)) return `${path} (a key)`;
        stack.push([(current as Record<string, unknown>)[key], `${path}/${key}`]);
      }
    }
  }
  return undefined;
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
// (String.prototype.isWellFormed does the second part, but is ES2024, beyond the TS lib target.)
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && !UNPAIRED_SURROGATE.test(text);
}

/**
 * One preValidation hook for every route: body, query string and path parameters are checked
 * before any schema or handler sees them, so no route can forget it.
 */
export function installTextGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (request: FastifyRequest) => {
    const path =
      findInvalidText(request.params, 'params') ??
      findInvalidText(request.query, 'querystring') ??
      findInvalidText(request.body, 'body');
    if (path !== undefined) throw new InvalidTextError(path);
  });
}
