import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import queue, { bulwarkQueue } from '../src/index.js';

describe('@bulwark/queue registration', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('registers with no options and declares its name and Fastify range', async () => {
    app = Fastify();
    await app.register(queue);
    await app.ready();
    expect(queue).toBe(bulwarkQueue); // both import forms are one plugin
    const meta = (queue as unknown as Record<symbol, { name: string; fastify: string }>)[
      Symbol.for('plugin-meta')
    ];
    expect(meta).toMatchObject({ name: '@bulwark/queue', fastify: '5.x' });
    expect(typeof bulwarkQueue).toBe('function');
    expect(app.hasPlugin('@bulwark/queue')).toBe(true);
  });

  it('rejects an unknown option, naming it', async () => {
    app = Fastify();
    await expect(
      app.register(queue, { nope: true } as unknown as Record<string, never>),
    ).rejects.toMatchObject({
      code: 'BULWARK_QUEUE_INVALID_OPTION',
      message: expect.stringMatching(/\bnope\b/),
    });
  });

  it('fails with BULWARK_QUEUE_ALREADY_REGISTERED on a second registration', async () => {
    app = Fastify();
    app.register(queue);
    app.register(queue);
    await expect(app.ready()).rejects.toMatchObject({ code: 'BULWARK_QUEUE_ALREADY_REGISTERED' });
  });

  it('accepts ioredis options holding functions, and rejects a connection that is not a redis URL', async () => {
    app = Fastify();
    const retryStrategy = (times: number) => Math.min(times * 100, 1000);
    await app.register(queue, {
      connection: { host: '127.0.0.1', port: 1, retryStrategy, lazyConnect: true },
    });
    await app.close();
    app = Fastify();
    await expect(app.register(queue, { connection: 'http://nope' })).rejects.toMatchObject({
      code: 'BULWARK_QUEUE_INVALID_OPTION',
    });
    app = Fastify();
    await expect(app.register(queue, { defaults: { attempts: 0 } })).rejects.toThrow(
      'option defaults.attempts expected integer to be greater or equal to 1, got 0',
    );
  });
});
