import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import limits, { errors, serverOptions } from '../../src/index.js';
import { connectionFactory } from '../../src/redis-connection.js';

describe('issue 14: a clean start', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('emits no FSTDEP deprecation warning from serverOptions(), and still caps path parameters at 100', async () => {
    const warnings: Array<string | undefined> = [];
    const listener = (warning: Error & { code?: string }) =>
      warnings.push(warning.code ?? warning.name);
    process.on('warning', listener);
    try {
      app = Fastify(serverOptions({}));
      await app.register(limits, { shedding: false });
      app.get('/items/:id', async (request) => request.params);
      await app.ready();
      expect((await app.inject(`/items/${'a'.repeat(100)}`)).statusCode).toBe(200);
      expect((await app.inject(`/items/${'a'.repeat(101)}`)).statusCode).toBe(414);
      // process.emitWarning delivers on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', listener);
    }
    expect(warnings.filter((code) => code?.startsWith('FSTDEP'))).toStrictEqual([]);
  });

  it('names the install command when redis is a URL and ioredis is not installed', async () => {
    const missing = Object.assign(new Error("Cannot find package 'ioredis'"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    const failure = connectionFactory('redis://127.0.0.1:1', () => Promise.reject(missing));
    await expect(failure).rejects.toBeInstanceOf(errors.IoredisMissingError);
    await expect(failure).rejects.toMatchObject({
      code: 'BULWARK_LIMITS_IOREDIS_MISSING',
      message: expect.stringContaining('npm install ioredis'),
      cause: missing,
    });
    // Any other failure to load is not disguised as a missing package.
    const other = new Error('boom');
    await expect(
      connectionFactory('redis://127.0.0.1:1', () => Promise.reject(other)),
    ).rejects.toBe(other);
  });
});
