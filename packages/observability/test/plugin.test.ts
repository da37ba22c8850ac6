import Fastify, { type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { afterEach, describe, expect, it } from 'vitest';
import observability, { bulwarkObservability, type ObservabilityOptions } from '../src/index.js';

describe('@bulwark/observability registration', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('registers with no options and declares its name and Fastify range', async () => {
    app = Fastify();
    await app.register(observability);
    await app.ready();
    expect(observability).toBe(bulwarkObservability); // both import forms are one plugin
    const meta = (observability as unknown as Record<symbol, { name: string; fastify: string }>)[
      Symbol.for('plugin-meta')
    ];
    expect(meta).toMatchObject({ name: '@bulwark/observability', fastify: '5.x' });
    expect(typeof bulwarkObservability).toBe('function');
    expect(app.hasPlugin('@bulwark/observability')).toBe(true);
  });

  it('rejects an unknown option, naming it', async () => {
    app = Fastify();
    await expect(
      app.register(observability, { nope: true } as unknown as Record<string, never>),
    ).rejects.toMatchObject({
      code: 'BULWARK_OBSERVABILITY_INVALID_OPTION',
      message: expect.stringMatching(/\bnope\b/),
    });
  });

  it.each([
    [{ metrics: { port: 70000 } }, 'metrics.port'],
    [{ metrics: { path: 'metrics' } }, 'metrics.path'],
    [{ memory: { threshold: 1.5 } }, 'memory.threshold'],
    [{ requestLog: { slowMs: -1 } }, 'requestLog.slowMs'],
    [{ metrics: { buckets: [] } }, 'metrics.buckets'],
    [{ requestId: { maxLength: 0 } }, 'requestId.maxLength'],
  ])('rejects %j, naming %s and the value', async (options, path) => {
    app = Fastify();
    await expect(app.register(observability, options as ObservabilityOptions)).rejects.toThrow(
      new RegExp(`option ${path.replace('.', '\\.')} .*got`),
    );
  });

  it('fails with BULWARK_OBSERVABILITY_ALREADY_REGISTERED on a second registration', async () => {
    app = Fastify();
    app.register(observability);
    app.register(observability);
    await expect(app.ready()).rejects.toMatchObject({
      code: 'BULWARK_OBSERVABILITY_ALREADY_REGISTERED',
    });
  });
});

describe('integration through fastify.metrics', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  const consumer = fp(
    async (fastify: FastifyInstance) => {
      if (!fastify.hasDecorator('metrics')) return;
      fastify.metrics.counter({ name: 'consumer_events_total', help: 'events' }).inc(2);
    },
    { name: 'consumer' },
  );

  it('lets a plugin registered later find fastify.metrics and add its metrics to the scrape', async () => {
    app = Fastify();
    await app.register(observability, { memory: { enabled: false } });
    await app.register(consumer);
    const response = await app.inject('/metrics');
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('consumer_events_total 2');
  });

  it('leaves a plugin that looks for fastify.metrics working when observability is absent', async () => {
    app = Fastify();
    await app.register(consumer);
    await app.ready();
    expect(app.hasDecorator('metrics')).toBe(false);
  });
});
