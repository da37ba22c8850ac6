import { describe, expect, it } from 'vitest';
import { missingOtelPeers, OTEL_PEERS } from '../src/otel-peers.js';

describe('the /otel preload’s optional peers', () => {
  it('lists as missing exactly the packages the resolver cannot find, in order', () => {
    const absent = new Set(['@fastify/otel', '@opentelemetry/sdk-node']);
    const missing = missingOtelPeers((name) => {
      if (absent.has(name)) throw new Error(`Cannot find package '${name}'`);
      return `file:///node_modules/${name}/index.js`;
    });
    expect(missing).toStrictEqual(['@opentelemetry/sdk-node', '@fastify/otel']);
  });

  it('names every package the SDK module imports', async () => {
    const { readFile } = await import('node:fs/promises');
    const source = await readFile(new URL('../src/otel-sdk.ts', import.meta.url), 'utf8');
    const imported = [...source.matchAll(/from '(@[^']+)'/g)].map((m) => m[1]);
    for (const name of imported) expect(OTEL_PEERS).toContain(name);
  });
});
