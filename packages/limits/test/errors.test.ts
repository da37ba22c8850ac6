import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errors } from '../src/index.js';
import { LimitsOptionsSchema } from '../src/options.js';
import { rateLimitedBody } from '../src/rate-limit.js';
import { overloadedBody } from '../src/shedding.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('errors', () => {
  const expected = {
    InvalidOptionError: ['BULWARK_LIMITS_INVALID_OPTION', 500, TypeError],
    AlreadyRegisteredError: ['BULWARK_LIMITS_ALREADY_REGISTERED', 500, Error],
    RateLimitedError: ['BULWARK_LIMITS_RATE_LIMITED', 429, Error],
    OverloadedError: ['BULWARK_LIMITS_OVERLOADED', 503, Error],
    IoredisMissingError: ['BULWARK_LIMITS_IOREDIS_MISSING', 500, Error],
  } as const;

  it('exports exactly the documented errors with their code, status, name and base class', () => {
    expect(Object.keys(errors).sort()).toStrictEqual(Object.keys(expected).sort());
    for (const [name, [code, status, base]] of Object.entries(expected)) {
      const Constructor = (
        errors as unknown as Record<
          string,
          new (
            ...args: string[]
          ) => Error & { code: string; statusCode: number }
        >
      )[name]!;
      const error = new Constructor('a', 'b');
      expect(error.code).toBe(code);
      expect(error.statusCode).toBe(status);
      expect(error.name).toBe('FastifyError');
      expect(error).toBeInstanceOf(base);
    }
  });

  it('lists exactly the exported codes in the README errors table', () => {
    const table = readme.slice(readme.indexOf('## Errors'));
    const documented = [...table.matchAll(/^\| `(BULWARK_[A-Z_]+)` \|/gm)].map((match) => match[1]);
    expect(documented.sort()).toStrictEqual(
      Object.values(expected)
        .map(([code]) => code)
        .sort(),
    );
  });
});

describe('direct error bodies', () => {
  it('match what the error handler sends for RateLimitedError and OverloadedError', async () => {
    const { default: Fastify } = await import('fastify');
    const app = Fastify();
    app.get('/429', async () => {
      throw new errors.RateLimitedError('user', '7');
    });
    app.get('/503', async () => {
      throw new errors.OverloadedError('1');
    });
    expect((await app.inject('/429')).body).toBe(rateLimitedBody('user', 7));
    expect((await app.inject('/503')).body).toBe(overloadedBody('1'));
    await app.close();
  });
});

describe('README options table', () => {
  // Every option path in the schema, with its default, must have a row.
  function paths(schema: Record<string, unknown>, prefix = ''): Array<[string, unknown]> {
    const rows: Array<[string, unknown]> = [];
    for (const [key, value] of Object.entries(
      (schema as { properties?: Record<string, Record<string, unknown>> }).properties ?? {},
    )) {
      const path = `${prefix}${key}`;
      if (value.anyOf) {
        rows.push([path, value.default]);
        const object = (value.anyOf as Array<Record<string, unknown>>).find(
          (member) => member.properties,
        );
        if (object) rows.push(...paths(object, `${path}.`));
      } else if (value.properties) {
        rows.push(...paths(value, `${path}.`));
      } else {
        rows.push([path, value.default]);
      }
    }
    return rows;
  }

  it('documents every option of the schema with its default', () => {
    const table = readme.slice(readme.indexOf('## Options'), readme.indexOf('## Route config'));
    for (const [path, fallback] of paths(
      LimitsOptionsSchema as unknown as Record<string, unknown>,
    )) {
      const row = table.split('\n').find((line) => line.startsWith(`| \`${path}\` |`));
      expect(row, path).toBeDefined();
      if (fallback !== undefined && typeof fallback !== 'object') {
        const shown = typeof fallback === 'string' ? `'${fallback}'` : String(fallback);
        expect(row, path).toContain(`\`${shown}\``);
      }
    }
  });
});
