import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { listen, spawnApp } from '../src/index.js';

const tinyApp = fileURLToPath(new URL('./fixtures/tiny-app.mjs', import.meta.url));

describe('app servers', () => {
  it('listen() serves an app on 127.0.0.1 and a free port', async () => {
    const app = Fastify();
    app.get('/ping', async () => ({ pong: true }));
    const url = await listen(app);
    try {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const response = await fetch(`${url}/ping`);
      expect(await response.json()).toStrictEqual({ pong: true });
    } finally {
      await app.close();
    }
  });

  it('spawnApp() runs an app in a child process, waits until it serves, and stops it', async () => {
    const child = await spawnApp({ args: [tinyApp] });
    const response = await fetch(`${child.url}/health`);
    const body = (await response.json()) as { pid: number };
    expect(body.pid).toBe(child.child.pid);
    expect(body.pid).not.toBe(process.pid);
    const exit = await child.stop('SIGTERM');
    expect(exit).toStrictEqual({ code: 0, signal: null });
    expect(child.output()).toContain('closed cleanly');
  });

  it('spawnApp() reports the output of a child that dies before serving', async () => {
    await expect(
      spawnApp({ args: ['-e', 'console.error("boom: bad config"); process.exit(3)'] }),
    ).rejects.toThrow(/exited before serving[\s\S]*boom: bad config/);
  });
});
