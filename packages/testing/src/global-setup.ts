import type { TestProject } from 'vitest/node';
import { createDatabase } from './postgres-database.js';
import { startRedis } from './redis-server.js';
import './provided-context.js';

/**
 * Vitest global setup: one private redis-server and one fresh database per project run, handed
 * to tests with `inject('redisUrl')` / `inject('databaseUrl')`. Tests that kill or cut a
 * dependency start their own with `startRedis()` / `startFaultProxy()` instead.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await startRedis();
  const database = await createDatabase().catch(async (error: unknown) => {
    await redis.stop();
    throw error;
  });
  project.provide('redisUrl', redis.url);
  project.provide('databaseUrl', database.url);
  return async () => {
    await Promise.allSettled([redis.stop(), database.drop()]);
  };
}
