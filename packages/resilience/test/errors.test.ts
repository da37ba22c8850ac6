import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errors } from '../src/index.js';

const expected: Record<string, [string, number]> = {
  InvalidOptionError: ['BULWARK_RESILIENCE_INVALID_OPTION', 500],
  AlreadyRegisteredError: ['BULWARK_RESILIENCE_ALREADY_REGISTERED', 500],
  BreakerOpenError: ['BULWARK_RESILIENCE_BREAKER_OPEN', 503],
  TimeoutError: ['BULWARK_RESILIENCE_TIMEOUT', 503],
  RequestAbortedError: ['BULWARK_RESILIENCE_REQUEST_ABORTED', 499],
  BulkheadFullError: ['BULWARK_RESILIENCE_BULKHEAD_FULL', 503],
  BreakerExistsError: ['BULWARK_RESILIENCE_BREAKER_EXISTS', 500],
  DbPoolExhaustedError: ['BULWARK_DB_POOL_EXHAUSTED', 503],
  DbUnavailableError: ['BULWARK_DB_UNAVAILABLE', 503],
  DbClosedError: ['BULWARK_DB_CLOSED', 503],
};

describe('errors', () => {
  it('exports every error with its code, status, name and base class', () => {
    expect(Object.keys(errors).sort()).toStrictEqual(Object.keys(expected).sort());
    for (const [name, [code, status]] of Object.entries(expected)) {
      const ErrorClass = (errors as unknown as Record<string, new (...args: unknown[]) => Error>)[
        name
      ]!;
      const error = new ErrorClass('x');
      expect(error).toBeInstanceOf(name === 'InvalidOptionError' ? TypeError : Error);
      expect(error).toMatchObject({ code, statusCode: status, name: 'FastifyError' });
    }
  });

  it('the README errors table lists exactly the exported codes', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Errors'));
    const table = section.slice(0, section.indexOf('\n## ', 5));
    const codes = [...table.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]).sort();
    expect(codes).toStrictEqual(
      Object.values(expected)
        .map(([code]) => code)
        .sort(),
    );
  });
});
