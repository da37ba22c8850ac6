import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errors } from '../src/index.js';
import { QueueOptionsSchema } from '../src/options.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

const expected: Record<string, { code: string; statusCode: number; base: ErrorConstructor }> = {
  InvalidOptionError: { code: 'BULWARK_QUEUE_INVALID_OPTION', statusCode: 500, base: TypeError },
  AlreadyRegisteredError: {
    code: 'BULWARK_QUEUE_ALREADY_REGISTERED',
    statusCode: 500,
    base: Error,
  },
  InvalidDefinitionError: {
    code: 'BULWARK_QUEUE_INVALID_DEFINITION',
    statusCode: 500,
    base: TypeError,
  },
  UnknownQueueError: { code: 'BULWARK_QUEUE_UNKNOWN', statusCode: 500, base: Error },
  InvalidPayloadError: { code: 'BULWARK_QUEUE_INVALID_PAYLOAD', statusCode: 400, base: Error },
  DisabledError: { code: 'BULWARK_QUEUE_DISABLED', statusCode: 503, base: Error },
  UnavailableError: { code: 'BULWARK_QUEUE_UNAVAILABLE', statusCode: 503, base: Error },
  JobTimeoutError: { code: 'BULWARK_QUEUE_JOB_TIMEOUT', statusCode: 500, base: Error },
  JobInterruptedError: { code: 'BULWARK_QUEUE_JOB_INTERRUPTED', statusCode: 503, base: Error },
};

describe('errors', () => {
  it('exports every error with its code, status, name and base class', () => {
    expect(Object.keys(errors).sort()).toStrictEqual(Object.keys(expected).sort());
    for (const [name, want] of Object.entries(expected)) {
      const ErrorClass = (errors as unknown as Record<string, new (...args: unknown[]) => Error>)[
        name
      ] as new (
        ...args: unknown[]
      ) => Error & { code: string; statusCode: number };
      const error = new ErrorClass('a', 'b', 1);
      expect(error.code).toBe(want.code);
      expect(error.statusCode).toBe(want.statusCode);
      expect(error.name).toBe('FastifyError');
      expect(error).toBeInstanceOf(want.base);
    }
  });

  it('lists exactly the exported codes in the README errors table', () => {
    const section = readme.split('## Errors')[1]?.split('\n## ')[0] ?? '';
    const codes = [...section.matchAll(/^\| `(BULWARK_QUEUE_[A-Z_]+)` \| (\d{3}) \|/gm)].map(
      (match) => `${match[1]} ${match[2]}`,
    );
    expect(codes.sort()).toStrictEqual(
      Object.values(expected)
        .map((want) => `${want.code} ${want.statusCode}`)
        .sort(),
    );
  });

  it('lists every option and its default in the README options table', () => {
    const section = readme.split('## Options')[1]?.split('\n## ')[0] ?? '';
    const rows = new Map(
      [...section.matchAll(/^\| `([a-zA-Z.]+)` \| [^|]*(?:\\\|[^|]*)* \| ([^|]+) \|/gm)].map(
        (match) => [match[1], match[2]?.trim()],
      ),
    );
    for (const [key, schema] of Object.entries(QueueOptionsSchema.properties)) {
      expect(rows.has(key), `README lists option ${key}`).toBe(true);
      const fallback = (schema as { default?: unknown }).default;
      if (typeof fallback === 'number' || typeof fallback === 'boolean') {
        expect(rows.get(key), `README default of ${key}`).toBe(`\`${fallback}\``);
      }
    }
    for (const [key, schema] of Object.entries(
      (
        QueueOptionsSchema.properties.defaults as unknown as {
          properties: Record<string, { default?: unknown }>;
        }
      ).properties,
    )) {
      expect(rows.has(`defaults.${key}`), `README lists option defaults.${key}`).toBe(true);
      if (typeof schema.default === 'number') {
        expect(rows.get(`defaults.${key}`)).toBe(`\`${schema.default}\``);
      }
    }
  });
});
