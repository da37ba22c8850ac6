// Concurrent A/B: every candidate server is loaded AT THE SAME TIME as bare Fastify, both pinned
// to CPU 0, so the kernel's fair scheduler gives each half the core and their 2xx/s ratio is the
// ratio of their per-request costs, measured in the same instant. On this shared host, whose speed
// drifts by up to 2× over seconds, that ratio is far steadier (±5 % over rounds) than the
// sequential rounds of run.mjs (two bare servers there: 0.76–1.49×). A diagnostic for comparing
// variants while optimising; the figures of record are `pnpm bench`'s. Never run in CI.
//
// Usage (from bench/): node ab.mjs [--seconds 3] [--rounds 7] label=servers/x.mjs[,ENV:value...] ...
// The first server is the baseline, e.g.
//   node ab.mjs bare=servers/bare.mjs ref=servers/headers-only.mjs mem=servers/limits-memory.mjs
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { pinLoadGenerator, startServer } from './lib/servers.mjs';

pinLoadGenerator();

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { seconds: { type: 'string', default: '3' }, rounds: { type: 'string', default: '7' } },
});
if (positionals.length < 2) {
  console.error(
    'usage: node ab.mjs [--seconds 3] [--rounds 7] base=servers/a.mjs other=servers/b.mjs[,K:v] ...',
  );
  process.exit(2);
}

const servers = [];
try {
  for (const spec of positionals) {
    const [label, rest = ''] = spec.split('=');
    const [entry, ...pairs] = rest.split(',');
    const env = Object.fromEntries(pairs.map((pair) => pair.split(':')));
    servers.push({ label, ...(await startServer({ label, entry, env })) });
  }
} catch (error) {
  await Promise.all(servers.map((server) => server.stop()));
  throw error;
}

const load = (url, duration) =>
  new Promise((resolve, reject) =>
    autocannon({ url, connections: 50, duration }, (error, result) =>
      error ? reject(error) : resolve(result),
    ),
  );
const [base, ...others] = servers.map((server) => ({ ...server, url: `${server.url}/hello` }));
console.log(
  `concurrent A/B vs ${base.label}: ${values.rounds} rounds × ${values.seconds} s, 50 connections each`,
);
for (const other of others) {
  await Promise.all([load(base.url, 2), load(other.url, 2)]);
  const ratios = [];
  for (let round = 0; round < Number(values.rounds); round += 1) {
    const [a, b] = await Promise.all([
      load(base.url, Number(values.seconds)),
      load(other.url, Number(values.seconds)),
    ]);
    ratios.push(b['2xx'] / a['2xx']);
  }
  ratios.sort((x, y) => x - y);
  const median = ratios[Math.floor(ratios.length / 2)];
  console.log(
    `${other.label.padEnd(16)} ${median.toFixed(2)}  (rounds: ${ratios.map((r) => r.toFixed(2)).join(' ')})`,
  );
}
await Promise.all(servers.map((server) => server.stop()));
process.exit(0);
