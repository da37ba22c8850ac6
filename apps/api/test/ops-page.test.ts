import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type ChildApp, type RedisServer, spawnApp, startRedis } from '@bulwark/testing';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const apiRoot = fileURLToPath(new URL('..', import.meta.url));
// Debian's chromium; .ci/run installs it when missing. CHROMIUM_BIN points elsewhere.
const executablePath = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
/** Committed and shown in the root README: the page as this test sees it while Redis is down. */
const screenshot = fileURLToPath(new URL('../../../docs/images/ops-page.png', import.meta.url));
const TOKEN = 'ops-page-test-token-0123456789';

describe('GET /ops in a real browser, on real Redis and PostgreSQL', () => {
  let app: ChildApp;
  let redis: RedisServer;
  let browser: Browser;
  beforeAll(async () => {
    if (!existsSync(executablePath)) {
      throw new Error(
        `no browser at ${executablePath}: apt-get install -y chromium, or set CHROMIUM_BIN`,
      );
    }
    redis = await startRedis();
    app = await spawnApp({
      args: ['dist/server.js'],
      cwd: apiRoot,
      env: {
        NODE_ENV: 'test',
        // Every test client is 127.0.0.1: the per-IP login tier would stop the fixture's sign-ups.
        RATE_LIMIT_AUTH_IP_MAX: '1000000',
        LOG_LEVEL: 'warn',
        DATABASE_URL: inject('databaseUrl'),
        REDIS_URL: redis.url,
        HEALTH_TOKEN: TOKEN,
      },
    });
    browser = await chromium.launch({
      executablePath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await redis?.stop();
  });

  /** Waits for a selector, sending a little traffic meanwhile so the limits store is exercised. */
  async function waitWithTraffic(page: Page, selector: string, what: string) {
    const traffic = setInterval(() => void fetch(`${app.url}/hello`).catch(() => undefined), 200);
    try {
      await page.waitForSelector(selector, { state: 'attached', timeout: 30_000 });
    } catch (error) {
      throw new Error(`${what}: ${selector} never appeared`, { cause: error });
    } finally {
      clearInterval(traffic);
    }
  }

  it('shows every section, follows Redis going down and coming back, loads nothing from elsewhere and logs no error', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // The page keeps the token in sessionStorage (it asks for it on a 401); set it up front so
    // no request is refused (a refused fetch is a console error in Chromium).
    await context.addInitScript(
      `sessionStorage.setItem('bulwark-ops-token', ${JSON.stringify(TOKEN)})`,
    );
    const page = await context.newPage();
    const origin = new URL(app.url).origin;
    const consoleErrors: string[] = [];
    const foreign: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    page.on('request', (request) => {
      if (new URL(request.url()).origin !== origin) foreign.push(request.url());
    });

    await page.goto(`${app.url}/ops`);
    for (const section of ['checks', 'breakers', 'rate-limits', 'shedding', 'pool', 'queues']) {
      await page.waitForSelector(`#${section}`, { state: 'visible', timeout: 15_000 });
    }
    await waitWithTraffic(
      page,
      'tr[data-check="queue:redis"][data-status="pass"]',
      'Redis check passing',
    );
    await waitWithTraffic(page, '#rate-limits[data-store="redis"]', 'shared store');
    expect(await page.textContent('#conn')).toBe('live');
    expect(await page.locator('tr[data-breaker="postgres"]').getAttribute('data-state')).toBe(
      'closed',
    );
    expect(await page.locator('tr[data-queue="email"] button[data-replay]').count()).toBe(1);
    expect(await page.locator('tr[data-check="postgres"]').getAttribute('data-status')).toBe(
      'pass',
    );

    // Decisions: requests through the shared store show up as allowed.
    for (let i = 0; i < 5; i++) expect((await fetch(`${app.url}/hello`)).status).toBe(200);
    // (No page.waitForFunction: the page's CSP forbids the eval it needs, as it should.)
    await expect
      .poll(async () => Number(await page.locator('[data-tile="allowed"] b').textContent()), {
        timeout: 10_000,
      })
      .toBeGreaterThanOrEqual(5);

    await redis.kill();
    await waitWithTraffic(page, '#rate-limits[data-store="fallback"]', 'local fallback');
    await waitWithTraffic(
      page,
      'tr[data-check="queue:redis"][data-status="fail"]',
      'Redis check failing',
    );
    await waitWithTraffic(
      page,
      'tr[data-check="rate-limit-store"][data-status="fail"]',
      'store check failing',
    );
    expect(await page.textContent('#status')).toContain('degraded');
    expect(await page.textContent('#conn')).toBe('live');
    await mkdir(new URL('../../../docs/images/', import.meta.url), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });

    await redis.start();
    await waitWithTraffic(page, '#rate-limits[data-store="redis"]', 'shared store again');
    await waitWithTraffic(
      page,
      'tr[data-check="queue:redis"][data-status="pass"]',
      'Redis check passing again',
    );
    await waitWithTraffic(
      page,
      'tr[data-check="rate-limit-store"][data-status="pass"]',
      'store check passing again',
    );
    // The admin action goes through the page's own fetch, with the token, within the CSP.
    await page.click('tr[data-queue="email"] button[data-replay="email"]');
    await page.waitForSelector('#queues-action:has-text("Replayed 0 dead job(s) of email.")', {
      timeout: 10_000,
    });
    await context.close();

    expect(foreign).toStrictEqual([]);
    expect(consoleErrors).toStrictEqual([]);
  });
});
