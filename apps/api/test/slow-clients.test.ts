import { connect } from 'node:net';
import type { ChildApp } from '@bulwark/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnApi } from './helpers/api-process.js';

const REQUEST_TIMEOUT_MS = 2_000;

/**
 * Sends the headers of a POST at once, then its body one byte every `intervalMs`, and resolves
 * when the server closes the socket: with the time from the first byte and what it answered.
 */
function trickle(url: string, intervalMs: number): Promise<{ elapsedMs: number; answer: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    const started = performance.now();
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    socket.on('error', () => undefined); // a reset is a way of being cut off too
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ elapsedMs: performance.now() - started, answer });
    });
    socket.on('connect', () => {
      socket.write(
        `POST /auth/login HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`,
      );
      timer = setInterval(() => {
        if (!socket.destroyed) socket.write(' ');
      }, intervalMs);
    });
    setTimeout(() => reject(new Error('the trickled request was never cut off')), 30_000).unref();
  });
}

describe('slow clients (real socket)', () => {
  let app: ChildApp;
  beforeAll(async () => {
    app = await spawnApi({
      REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      // Node checks the timeouts every min(1 s, headers timeout): 500 ms here.
      HEADERS_TIMEOUT_MS: '500',
    });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('cuts off a body trickled slower than REQUEST_TIMEOUT_MS within that timeout + 1 s', async () => {
    // 1,000 bytes at one per 250 ms would take 250 s.
    const { elapsedMs, answer } = await trickle(app.url, 250);
    expect(elapsedMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(elapsedMs).toBeLessThanOrEqual(REQUEST_TIMEOUT_MS + 1_000);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    // Clients that send at a normal pace are served.
    expect((await fetch(`${app.url}/hello`)).status).toBe(200);
  });

  it('refuses a body over BODY_LIMIT_BYTES with 413', async () => {
    const response = await fetch(`${app.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'x'.repeat(1_048_576) }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({
      statusCode: 413,
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
    });
  });
});
