import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnApp, waitFor } from '@bulwark/testing';
import { describe, expect, inject, it } from 'vitest';
import { apiClient, uniqueTenant } from './helpers/client.js';

const apiRoot = fileURLToPath(new URL('..', import.meta.url));

describe('WORKERS=off and the worker process', () => {
  it('leaves emails pending in the API and the worker process sends them', async () => {
    const env = {
      NODE_ENV: 'test',
      // Every test client is 127.0.0.1: the per-IP login tier would stop the fixture's sign-ups.
      RATE_LIMIT_AUTH_IP_MAX: '1000000',
      LOG_LEVEL: 'warn',
      DATABASE_URL: inject('databaseUrl'),
      REDIS_URL: inject('redisUrl'),
      WORKERS: 'off',
    };
    const app = await spawnApp({ args: ['dist/server.js'], cwd: apiRoot, env });
    let worker: ReturnType<typeof spawn> | undefined;
    try {
      const api = apiClient(app.url);
      const tenant = uniqueTenant('worker');
      await api.register(tenant, 'w@x.test');
      const token = await api.login(tenant, 'w@x.test');
      const status = async () =>
        (await api.request<{ items: { status: string }[] }>('GET', '/api/v1/me/emails', { token }))
          .body.items[0]?.status;
      // Relayed into the queue, but nobody consumes it in the API process.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await status()).toBe('pending');

      worker = spawn(process.execPath, ['dist/worker.js'], {
        cwd: apiRoot,
        // Port 0: tests run side by side and must not race for the default health port.
        env: { ...process.env, ...env, WORKER_HEALTH_PORT: '0' },
        stdio: 'ignore',
      });
      await waitFor(async () => (await status()) === 'sent', {
        what: 'the worker to send the email',
        timeoutMs: 20_000,
      });
    } finally {
      worker?.kill('SIGTERM');
      await app.stop();
    }
  });

  it('refuses to start without REDIS_URL and DATABASE_URL, saying why', async () => {
    const child = spawn(process.execPath, ['dist/worker.js'], {
      cwd: apiRoot,
      env: { ...process.env, REDIS_URL: '', DATABASE_URL: '' },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain(
      'Invalid configuration: REDIS_URL is unset: the worker process needs it',
    );
    expect(stderr).toContain('Invalid configuration: DATABASE_URL is unset');
  });
});
