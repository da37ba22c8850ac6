import './provided-context.js';

export { type ChildApp, listen, type SpawnAppOptions, spawnApp } from './app-server.js';
export {
  type FaultMode,
  type FaultProxy,
  type FaultProxyOptions,
  startFaultProxy,
  throughProxy,
} from './fault-proxy.js';
export { freePort } from './free-port.js';
export { createDatabase, defaultAdminUrl, type TestDatabase } from './postgres-database.js';
export {
  type RedisCluster,
  type StartRedisClusterOptions,
  startRedisCluster,
} from './redis-cluster.js';
export { type RedisServer, type StartRedisOptions, startRedis } from './redis-server.js';
export { type WaitForOptions, waitFor } from './wait-for.js';
