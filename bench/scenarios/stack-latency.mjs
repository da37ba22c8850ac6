// Issue 9: latency at a sane load. Bare Fastify's maximum throughput is measured first
// (closed loop, 50 connections); then bare and the full Bulwark stack (memory and Redis stores)
// are each offered half of it, open loop (autocannon overallRate), interleaved for ROUNDS rounds.
// Target: the stack's p99 within 1 ms of bare's at that rate.
import { measure, median, medianOfRuns } from '../lib/load.mjs';
import { startServer } from '../lib/servers.mjs';

const ROUNDS = 3;
const DURATION = 10;
const LABELS = {
  bare: 'bare fastify',
  memory: 'bulwark stack, memory store',
  redis: 'bulwark stack, redis store',
};
const withinOneMs = (row, rows) => {
  const bare = rows.find((candidate) => candidate.label === LABELS.bare);
  return [
    row.p99 <= bare.p99 + 1,
    `p99 ${row.p99} ms within 1 ms of bare's ${bare.p99} ms at ${row.offered} req/s offered`,
  ];
};

export default {
  name: 'stack-latency',
  title: "p99 at half of bare Fastify's maximum throughput: full Bulwark stack vs bare",
  needs: ['redis', 'postgres'],
  async run({ redisUrl, databaseUrl }) {
    const env = { REDIS_URL: redisUrl, DATABASE_URL: databaseUrl };
    const servers = {
      bare: await startServer({ label: LABELS.bare, entry: 'servers/bare.mjs' }),
      memory: await startServer(
        {
          label: LABELS.memory,
          entry: 'servers/stack.mjs',
          readyPath: '/ready',
          env: { STORE: 'memory' },
        },
        env,
      ),
      redis: await startServer(
        {
          label: LABELS.redis,
          entry: 'servers/stack.mjs',
          readyPath: '/ready',
          env: { STORE: 'redis' },
        },
        env,
      ),
    };
    try {
      const load = { path: '/hello', connections: 50 };
      await measure(servers.bare.url, { ...load, duration: 3 });
      const max = [];
      for (let round = 0; round < ROUNDS; round += 1) {
        max.push((await measure(servers.bare.url, { ...load, duration: DURATION })).reqPerSec);
      }
      const offered = Math.round(median(max) / 2);
      const runs = { bare: [], memory: [], redis: [] };
      for (const key of Object.keys(servers)) {
        await measure(servers[key].url, { ...load, overallRate: offered, duration: 3 });
      }
      for (let round = 0; round < ROUNDS; round += 1) {
        for (const key of Object.keys(servers)) {
          runs[key].push(
            await measure(servers[key].url, { ...load, overallRate: offered, duration: DURATION }),
          );
        }
      }
      return Object.keys(servers).map((key) => {
        return { label: LABELS[key], offered, ...medianOfRuns(runs[key]) };
      });
    } finally {
      await Promise.all(Object.values(servers).map((server) => server.stop()));
    }
  },
  targets: [
    { label: LABELS.memory, check: withinOneMs },
    { label: LABELS.redis, check: withinOneMs },
  ],
};
