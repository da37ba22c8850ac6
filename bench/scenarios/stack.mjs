// Issue 9: what each Bulwark plugin costs alone, what the whole stack costs (memory and Redis
// rate-limit stores), and the stack a team would otherwise assemble from official plugins — all
// on the same GET /hello, interleaved in one run. Targets: the full stack with the memory store
// ≥ 60 % of bare Fastify's req/s, with the Redis store ≥ 50 %, both ahead of the official stack.
const stack = (env) => ({ entry: 'servers/stack.mjs', readyPath: '/ready', env });
const MEMORY = 'bulwark stack, memory store';
const REDIS = 'bulwark stack, redis store';
const OFFICIAL = 'official plugins (helmet, rate-limit redis, fastify-metrics, under-pressure)';

const aheadOfOfficial = (row, rows) => {
  const official = rows.find((candidate) => candidate.label === OFFICIAL);
  return [
    row.goodputPerSec > official.goodputPerSec,
    `ahead of the official stack: ${row.goodputPerSec.toFixed(0)} vs ${official.goodputPerSec.toFixed(0)} 2xx/s`,
  ];
};

export default {
  name: 'stack',
  title:
    'bare Fastify vs each plugin alone vs the full Bulwark stack vs the official-plugins stack',
  needs: ['redis', 'postgres'],
  servers: [
    { label: 'bare fastify', entry: 'servers/bare.mjs' },
    { label: '+ observability (logs at info)', ...stack({ PLUGINS: 'observability' }) },
    { label: '+ health', ...stack({ PLUGINS: 'health' }) },
    { label: '+ limits (memory store)', ...stack({ PLUGINS: 'limits' }) },
    { label: '+ resilience (pg pool)', ...stack({ PLUGINS: 'resilience' }) },
    { label: '+ queue (BullMQ)', ...stack({ PLUGINS: 'queue' }) },
    { label: MEMORY, ...stack({ STORE: 'memory' }) },
    { label: REDIS, ...stack({ STORE: 'redis' }) },
    // The same stack without load shedding: its capacity, apart from the shedder's refusals of a
    // client that keeps 50 requests in flight whatever the latency (see bench/README.md).
    { label: `${MEMORY}, shedding off`, ...stack({ STORE: 'memory', SHEDDING: 'off' }) },
    { label: OFFICIAL, entry: 'servers/official.mjs' },
  ],
  load: { path: '/hello', connections: 50, duration: 10 },
  rounds: 3,
  warmupSeconds: 3,
  targets: [
    { label: MEMORY, minRatio: 0.6, check: aheadOfOfficial },
    { label: REDIS, minRatio: 0.5, check: aheadOfOfficial },
  ],
};
