import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** PGlite's in-memory mode: nothing survives the process (tests, throwaway demos). */
export const IN_MEMORY = 'memory://';

/** apps/api/.data/pglite, whatever the working directory (this file is dist/database/*.js). */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../.data/pglite', import.meta.url));

/** Where embedded PGlite keeps its files: `PGLITE_DATA_DIR`, else the git-ignored default. */
export function embeddedDataDir(configured: string | undefined): string {
  if (configured === undefined) return DEFAULT_DATA_DIR;
  return configured.startsWith(IN_MEMORY) ? configured : resolve(configured);
}

/**
 * The JWT secret outside production when none is configured: generated once and kept in
 * `jwt-secret` beside the embedded data (mode 0600), so tokens survive a restart exactly as long
 * as the data does. In memory mode it lives and dies with the process.
 */
export async function persistedJwtSecret(
  dataDir: string,
): Promise<{ secret: string; file?: string }> {
  if (dataDir.startsWith(IN_MEMORY)) return { secret: randomBytes(48).toString('base64url') };
  const file = join(dirname(dataDir), 'jwt-secret');
  await mkdir(dirname(file), { recursive: true });
  try {
    // 'wx': create only if absent, so two processes racing here keep one secret.
    await writeFile(file, randomBytes(48).toString('base64url'), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const secret = (await readFile(file, 'utf8')).trim();
  if (secret.length < 32)
    throw new Error(`${file} holds no usable secret: delete it to generate one`);
  return { secret, file };
}
