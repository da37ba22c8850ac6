import { readFile } from 'node:fs/promises';
import type { FastifyError } from '@fastify/error';
import { describe, expect, it } from 'vitest';
import { errors } from '../src/index.js';

const expected = {
  InvalidOptionError: {
    code: 'BULWARK_OBSERVABILITY_INVALID_OPTION',
    statusCode: 500,
    base: TypeError,
  },
  AlreadyRegisteredError: {
    code: 'BULWARK_OBSERVABILITY_ALREADY_REGISTERED',
    statusCode: 500,
    base: Error,
  },
  UnauthorizedError: { code: 'BULWARK_OBSERVABILITY_UNAUTHORIZED', statusCode: 401, base: Error },
  MetricConflictError: {
    code: 'BULWARK_OBSERVABILITY_METRIC_CONFLICT',
    statusCode: 500,
    base: Error,
  },
  ScrapeFailedError: { code: 'BULWARK_OBSERVABILITY_SCRAPE_FAILED', statusCode: 500, base: Error },
  OtelMissingError: { code: 'BULWARK_OBSERVABILITY_OTEL_MISSING', statusCode: 500, base: Error },
  PrettyMissingError: {
    code: 'BULWARK_OBSERVABILITY_PRETTY_MISSING',
    statusCode: 500,
    base: Error,
  },
} as const;

describe('errors', () => {
  it('exports exactly the documented errors, each with its code, status, name and base class', () => {
    expect(Object.keys(errors).sort()).toStrictEqual(Object.keys(expected).sort());
    for (const [name, spec] of Object.entries(expected)) {
      const ErrorClass = (errors as Record<string, new (...args: string[]) => FastifyError>)[name];
      expect(ErrorClass).toBeDefined();
      const error = new (ErrorClass as new (...args: string[]) => FastifyError)('a', 'b', 'c');
      expect(error.code).toBe(spec.code);
      expect(error.statusCode).toBe(spec.statusCode);
      expect(error.name).toBe('FastifyError');
      expect(error).toBeInstanceOf(spec.base);
      expect(error).toBeInstanceOf(ErrorClass as unknown as new () => unknown);
    }
  });

  it('the README errors table lists exactly the exported codes, with their statuses', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.split('## Errors')[1]?.split('\n## ')[0] ?? '';
    const rows = [...section.matchAll(/^\| `(BULWARK_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [
      m[1],
      Number(m[2]),
    ]);
    const codes = Object.values(expected)
      .map((spec) => [spec.code, spec.statusCode])
      .sort();
    expect(rows.sort()).toStrictEqual(codes);
  });
});
