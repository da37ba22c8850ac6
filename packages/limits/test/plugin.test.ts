import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import limits, { bulwarkLimits } from '../src/index.js';

describe('@bulwark/limits registration', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('registers with no options and declares its name and Fastify range', async () => {
    app = Fastify();
    await app.register(limits);
    await app.ready();
    expect(limits).toBe(bulwarkLimits); // both import forms are one plugin
    const meta = (limits as unknown as Record<symbol, { name: string; fastify: string }>)[
      Symbol.for('plugin-meta')
    ];
    expect(meta).toMatchObject({ name: '@bulwark/limits', fastify: '5.x' });
    expect(typeof bulwarkLimits).toBe('function');
    expect(app.hasPlugin('@bulwark/limits')).toBe(true);
  });

  it('rejects an unknown option, naming it', async () => {
    app = Fastify();
    await expect(
      app.register(limits, { nope: true } as unknown as Record<string, never>),
    ).rejects.toMatchObject({
      code: 'BULWARK_LIMITS_INVALID_OPTION',
      message: expect.stringMatching(/\bnope\b/),
    });
  });

  it('fails with BULWARK_LIMITS_ALREADY_REGISTERED on a second registration', async () => {
    app = Fastify();
    app.register(limits);
    app.register(limits);
    await expect(app.ready()).rejects.toMatchObject({ code: 'BULWARK_LIMITS_ALREADY_REGISTERED' });
  });
});
