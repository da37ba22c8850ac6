import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type ChildApp, spawnApp } from '@bulwark/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const apiRoot = fileURLToPath(new URL('..', import.meta.url));
// Debian's chromium; .ci/run installs it when missing. CHROMIUM_BIN points elsewhere.
const chromium = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

describe('GET /docs in a real browser', () => {
  let app: ChildApp;
  beforeAll(async () => {
    if (!existsSync(chromium)) {
      throw new Error(
        `no browser at ${chromium}: apt-get install -y chromium, or set CHROMIUM_BIN`,
      );
    }
    app = await spawnApp({
      args: ['dist/server.js'],
      cwd: apiRoot,
      env: { NODE_ENV: 'test', LOG_LEVEL: 'warn', PGLITE_DATA_DIR: 'memory://' },
    });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('renders the OpenAPI UI with every route group, under its own CSP', async () => {
    const profile = await mkdtemp(join(tmpdir(), 'bulwark-chromium-'));
    try {
      const { stdout } = await promisify(execFile)(
        chromium,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          `--user-data-dir=${profile}`,
          '--virtual-time-budget=10000',
          '--dump-dom',
          `${app.url}/docs`,
        ],
        { maxBuffer: 32 * 1024 * 1024, timeout: 60_000 },
      );
      // These strings exist only after swagger-ui's scripts ran and loaded /docs/json.
      expect(stdout).toContain('Bulwark reference API');
      for (const path of [
        '/auth/register',
        '/auth/login',
        '/api/v1/notes',
        '/api/v1/admin/queues',
      ]) {
        expect(stdout).toContain(path);
      }
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
    const page = await fetch(`${app.url}/docs/`);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const api = await fetch(`${app.url}/hello`);
    expect(api.headers.get('content-security-policy')).toContain("default-src 'none'");
  });
});
