// Child-process fixtures run under plain Node, so they import the built package. The root
// `pnpm test` builds first (turbo); this keeps `vitest run --project health` honest too by
// rebuilding when any source file is newer than dist.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

export function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync(`${root}dist/index.js`).mtimeMs;
  } catch {
    built = 0;
  }
  if (built >= newest(`${root}src`)) return;
  execFileSync('pnpm', ['--filter', '@bulwark/health', 'build'], { cwd: root, stdio: 'ignore' });
}

export const fixture = (name: string): string => `${root}test/fixtures/${name}`;
