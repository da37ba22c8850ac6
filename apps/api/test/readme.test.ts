import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../src/config.js';
import * as errors from '../src/errors.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The first-column values of the markdown table whose header starts with `| <first> |`. */
function column(first: string): string[] {
  const lines = readme.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`| ${first} |`));
  expect(start, `a table starting with "| ${first} |"`).toBeGreaterThanOrEqual(0);
  const cells: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    cells.push(line.split('|')[1]!.trim());
  }
  return cells;
}

describe('README contract', () => {
  it('the errors table lists exactly the API error codes', () => {
    const documented = column('code').map((cell) => cell.replaceAll('`', ''));
    const exported = Object.values(errors).map((ErrorClass) => new ErrorClass('x').code);
    // Sent by the not-found handler as a plain body, not thrown.
    exported.push('BULWARK_API_ROUTE_NOT_FOUND');
    expect([...documented].sort()).toStrictEqual([...new Set(exported)].sort());
  });

  it('the environment table names every variable the configuration reads', () => {
    const documented = column('variable').flatMap((cell) =>
      [...cell.matchAll(/`([A-Z_]+)`/g)].map((match) => match[1]!),
    );
    // "RATE_LIMIT_GLOBAL_MAX / _WINDOW_MS": the second name is written as a suffix.
    const expanded = documented.flatMap((name, index, all) =>
      name.startsWith('_') ? [`${all[index - 1]!.replace(/_MAX$/, '')}${name}`] : [name],
    );
    for (const key of Object.keys(ConfigSchema.properties)) {
      expect(expanded, `${key} in the README's environment table`).toContain(key);
    }
  });
});
