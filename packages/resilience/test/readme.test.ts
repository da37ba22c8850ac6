import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ResilienceOptionsSchema } from '../src/options.js';

type Property = { default?: unknown; properties?: Record<string, Property> };

describe('README', () => {
  it('the options table lists every option of the schema with its default', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Options'), readme.indexOf('## Route config'));
    const rows = new Map(
      [...section.matchAll(/^\| `([\w.]+)` \| [^|]+(?:\\\|[^|]+)* \| ([^|]+) \|/gm)].map((m) => [
        m[1],
        m[2]!.trim(),
      ]),
    );
    const expected = new Map<string, unknown>();
    for (const [group, schema] of Object.entries(ResilienceOptionsSchema.properties)) {
      for (const [key, property] of Object.entries((schema as Property).properties ?? {})) {
        expected.set(`${group}.${key}`, property.default);
      }
    }
    expect([...rows.keys()].sort()).toStrictEqual([...expected.keys()].sort());
    for (const [key, value] of expected) {
      const documented = rows.get(key)!;
      if (value === undefined) expect(documented, key).toBe('none');
      else
        expect(documented, key).toBe(
          `\`${typeof value === 'string' ? `'${value}'` : JSON.stringify(value)}\``,
        );
    }
  });
});
