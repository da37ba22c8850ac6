// Issue 9: memory. Bare Fastify and the full Bulwark stack (memory store) each serve WARMUP
// requests, then 1,000,000 more (autocannon `amount`, 50 connections); RSS is read from
// /proc/<pid>/status after each phase. Target: the stack's RSS grows by at most GROWTH_BOUND_MB
// over the million requests (a leak of even 50 bytes a request would show as ~48 MB), and bare
// is shown alongside for scale.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { measure } from '../lib/load.mjs';
import { startServer } from '../lib/servers.mjs';

const REQUESTS = Number(process.env.MEMORY_BENCH_REQUESTS ?? 1_000_000);
const WARMUP = 100_000;
const GROWTH_BOUND_MB = 32;
const STACK = 'bulwark stack, memory store';

function rssMb(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) / 1024;
}

async function phase(server, amount) {
  const result = await measure(server.url, {
    path: '/hello',
    connections: 50,
    amount,
    duration: 3600,
  });
  await sleep(2000); // let in-flight work and timers settle before reading RSS
  return { result, rss: rssMb(server.pid) };
}

export default {
  name: 'stack-memory',
  title: `RSS after ${REQUESTS.toLocaleString('en')} requests: full Bulwark stack vs bare Fastify`,
  needs: ['redis', 'postgres'],
  async run({ redisUrl, databaseUrl }) {
    const rows = [];
    for (const spec of [
      { label: 'bare fastify', entry: 'servers/bare.mjs' },
      { label: STACK, entry: 'servers/stack.mjs', readyPath: '/ready', env: { STORE: 'memory' } },
    ]) {
      const server = await startServer(spec, { REDIS_URL: redisUrl, DATABASE_URL: databaseUrl });
      try {
        const started = rssMb(server.pid);
        const warm = await phase(server, WARMUP);
        const loaded = await phase(server, REQUESTS);
        rows.push({
          label: spec.label,
          reqPerSec: loaded.result.reqPerSec,
          startedMb: started,
          warmMb: warm.rss,
          afterMb: loaded.rss,
          growthMb: loaded.rss - warm.rss,
          served: loaded.result.ok,
          failed: loaded.result.non2xx + loaded.result.errors,
        });
      } finally {
        await server.stop();
      }
    }
    return rows;
  },
  table(rows) {
    const f = (value) => value.toFixed(1);
    return [
      `| server | req/s | RSS at start MB | RSS after ${WARMUP.toLocaleString('en')} MB | RSS after +${REQUESTS.toLocaleString('en')} MB | growth MB | 2xx | failed |`,
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map(
        (row) =>
          `| ${row.label} | ${row.reqPerSec.toFixed(0)} | ${f(row.startedMb)} | ${f(row.warmMb)} | ${f(row.afterMb)} | ${f(row.growthMb)} | ${row.served} | ${row.failed} |`,
      ),
    ].join('\n');
  },
  target: {
    label: STACK,
    check: (row) => [
      row.growthMb <= GROWTH_BOUND_MB && row.failed === 0 && row.served === REQUESTS,
      `RSS growth over ${REQUESTS.toLocaleString('en')} requests ${row.growthMb.toFixed(1)} MB ≤ ${GROWTH_BOUND_MB} MB, all ${row.served} served (${row.failed} failed)`,
    ],
  },
};
