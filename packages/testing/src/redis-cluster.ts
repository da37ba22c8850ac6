import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type RedisServer, startRedis } from './redis-server.js';
import { waitFor } from './wait-for.js';

const run = promisify(execFile);

/** A real Redis Cluster of `masters` masters (no replicas) on free ports of 127.0.0.1. */
export interface RedisCluster {
  /** One entry per master, in start order: what ioredis's `new Cluster(nodes)` takes. */
  readonly nodes: ReadonlyArray<{ host: string; port: number }>;
  /** The master processes, in the same order (kill, start again, running). */
  readonly servers: readonly RedisServer[];
  /** Index in `servers` of the master that serves `key`'s hash slot now. */
  masterOf(key: string): Promise<number>;
  /** Resolves when every running master reports `cluster_state:ok`. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every master and removes the cluster's files. */
  stop(): Promise<void>;
}

/** Options of {@link startRedisCluster}. */
export interface StartRedisClusterOptions {
  /** How many masters. @default 3 */
  masters?: number;
  /** Milliseconds before a silent master is considered failing. @default 1000 */
  nodeTimeoutMs?: number;
  /** The `redis-cli` binary. @default process.env.REDIS_CLI_BIN ?? 'redis-cli' */
  cli?: string;
}

async function cli(binary: string, port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run(binary, ['-h', '127.0.0.1', '-p', String(port), ...args]);
  return stdout;
}

/**
 * Starts `masters` × `redis-server --cluster-enabled yes` (each through {@link startRedis}, so
 * each can be killed and started again on its port) and joins them with
 * `redis-cli --cluster create … --cluster-replicas 0`. Each node keeps its `nodes.conf` in a
 * private temporary folder, so a killed master started again rejoins the same cluster with the
 * same slots (its data is gone: nothing is persisted).
 */
export async function startRedisCluster(
  options: StartRedisClusterOptions = {},
): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const binary = options.cli ?? process.env.REDIS_CLI_BIN ?? 'redis-cli';
  const folder = await mkdtemp(join(tmpdir(), 'bulwark-redis-cluster-'));
  const servers: RedisServer[] = [];
  try {
    for (let i = 0; i < masters; i += 1) {
      servers.push(
        await startRedis({
          extraArgs: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(folder, `nodes-${i}.conf`),
            '--cluster-node-timeout',
            String(options.nodeTimeoutMs ?? 1000),
            '--dir',
            folder,
          ],
        }),
      );
    }
    await run(binary, [
      '--cluster',
      'create',
      ...servers.map((server) => `127.0.0.1:${server.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
  } catch (error) {
    await Promise.all(servers.map((server) => server.stop()));
    await rm(folder, { recursive: true, force: true });
    throw error;
  }

  const waitHealthy = async (timeoutMs = 15_000) => {
    await waitFor(
      async () => {
        for (const server of servers) {
          if (!server.running) continue;
          const info = await cli(binary, server.port, 'cluster', 'info').catch(() => '');
          if (!info.includes('cluster_state:ok')) return false;
        }
        return true;
      },
      { timeoutMs, what: 'the Redis Cluster to report cluster_state:ok' },
    );
  };
  await waitHealthy();

  return {
    nodes: servers.map((server) => ({ host: '127.0.0.1', port: server.port })),
    servers,
    waitHealthy,
    async masterOf(key) {
      const live = servers.find((server) => server.running) ?? servers[0]!;
      const slot = Number((await cli(binary, live.port, 'cluster', 'keyslot', key)).trim());
      const nodes = await cli(binary, live.port, 'cluster', 'nodes');
      for (const line of nodes.trim().split('\n')) {
        const fields = line.split(' ');
        const port = Number(fields[1]?.split(':')[1]?.split('@')[0]);
        for (const range of fields.slice(8)) {
          const [from, to] = range.split('-').map(Number);
          if (from !== undefined && slot >= from && slot <= (to ?? from)) {
            return servers.findIndex((server) => server.port === port);
          }
        }
      }
      throw new Error(`no master serves slot ${slot} of ${key}`);
    },
    async stop() {
      await Promise.all(servers.map((server) => server.stop()));
      await rm(folder, { recursive: true, force: true });
    },
  };
}
