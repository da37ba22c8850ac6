import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors.js';

describe('API errors', () => {
  it('lists exactly the exported error codes, with their status, in the README errors table', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const table = [...readme.matchAll(/^\| `(BULWARK_API_[A-Z_]+)` \| (\d{3}) \|/gm)].map(
      ([, code, status]) => [code, Number(status)],
    );
    const exported = Object.values(errors).map((ErrorClass) => {
      const error = new (
        ErrorClass as new (
          ...args: string[]
        ) => Error & {
          code: string;
          statusCode: number;
        }
      )('x');
      return [error.code, error.statusCode];
    });
    expect(table.sort()).toStrictEqual(exported.sort());
  });
});
