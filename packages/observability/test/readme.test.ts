import { readFile } from 'node:fs/promises';
import type { TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { ObservabilityOptionsSchema } from '../src/options.js';

function leaves(schema: TSchema, prefix = ''): [string, TSchema][] {
  if (schema.type === 'object' && schema.properties) {
    return Object.entries(schema.properties as Record<string, TSchema>).flatMap(([key, child]) =>
      leaves(child, prefix ? `${prefix}.${key}` : key),
    );
  }
  return [[prefix, schema]];
}

function formatDefault(value: unknown): string {
  if (value === undefined) return '_(none)_';
  if (typeof value === 'string') return `\`'${value}'\``;
  if (Array.isArray(value)) return `\`[${value.join(', ')}]\``;
  return `\`${String(value)}\``;
}

describe('README options table', () => {
  it('lists every schema option with its default and description, and nothing else', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.split('\n## Options\n')[1]?.split('\n## ')[0] ?? '';
    const rows = new Map(
      [...section.matchAll(/^\| `([a-zA-Z.]+)` \| ([^|]+) \| ([^|]+) \| (.+) \|$/gm)].map((m) => [
        m[1],
        { default: m[3]?.trim(), description: m[4]?.trim() },
      ]),
    );
    const options = leaves(ObservabilityOptionsSchema);
    expect([...rows.keys()].sort()).toStrictEqual(options.map(([path]) => path).sort());
    for (const [path, schema] of options) {
      expect(rows.get(path)?.default, path).toBe(formatDefault(schema.default));
      expect(rows.get(path)?.description, path).toBe(schema.description);
    }
  });
});
