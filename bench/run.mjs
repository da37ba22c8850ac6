// Runs load benchmarks: every scenario against bare Fastify in the same run. Never run in CI.
// Usage: pnpm bench [scenario ...]   (from the repository root)
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createDatabase, startRedis } from '@bulwark/testing';
import { measure, median, medianOfRuns } from './lib/load.mjs';
import { hasTaskset, pinLoadGenerator, startServer } from './lib/servers.mjs';

// The load generator runs on CPU 1, the servers on CPU 0: re-exec once under taskset.
pinLoadGenerator();

const root = fileURLToPath(new URL('.', import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(`${root}scenarios`)
  .filter((file) => file.endsWith('.mjs'))
  .sort();
const scenarios = [];
for (const file of files) {
  const scenario = (await import(`./scenarios/${file}`)).default;
  if (wanted.length === 0 || wanted.includes(scenario.name)) scenarios.push(scenario);
}
const unknown = wanted.filter((name) => !scenarios.some((scenario) => scenario.name === name));
if (unknown.length > 0) {
  console.error(`unknown scenario(s): ${unknown.join(', ')}; have: ${files.join(', ')}`);
  process.exit(2);
}

// Real dependencies for scenarios that declare them, owned by this run.
let redis;
let database;
async function dependencies(scenario) {
  const env = {};
  const needs = scenario.needs ?? [];
  if (needs.includes('redis')) {
    redis ??= await startRedis();
    env.REDIS_URL = redis.url;
  }
  if (needs.includes('postgres')) {
    database ??= await createDatabase(undefined, 'bulwark_bench');
    env.DATABASE_URL = database.url;
  }
  return env;
}

const fmt = (value, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : '—');

async function runHttpScenario(scenario, env) {
  const servers = [];
  try {
    for (const server of scenario.servers) servers.push(await startServer(server, env));
    // A server may override the scenario's load (e.g. its own path): { ...load, ...server.load },
    // and its `setup(url)` may add more once it listens (e.g. an Authorization header).
    const prepared = [];
    for (const [index, server] of servers.entries()) {
      prepared.push((await scenario.servers[index].setup?.(server.url)) ?? {});
    }
    const loadFor = (index) => ({
      ...scenario.load,
      ...scenario.servers[index].load,
      ...prepared[index],
    });
    for (const [index, server] of servers.entries()) {
      await measure(server.url, { ...loadFor(index), duration: scenario.warmupSeconds ?? 3 });
    }
    const runs = scenario.servers.map(() => []);
    for (let round = 0; round < (scenario.rounds ?? 3); round += 1) {
      for (const [index, server] of servers.entries()) {
        runs[index].push(await measure(server.url, loadFor(index)));
      }
    }
    const rows = scenario.servers.map((server, index) => {
      return { label: server.label, ...medianOfRuns(runs[index]) };
    });
    // Ratios compare 2xx/s: a shed or refused request is an answer, not throughput, and a
    // shedding server that answers a saturating client with cheap 503s must not look faster.
    // Scenarios whose answers are meant to be non-2xx (a probe that reports a hang, a fail-fast
    // 503) say `ratioOf: 'reqPerSec'`.
    const of = scenario.ratioOf ?? 'goodputPerSec';
    // Paired ratios: each round's figure over bare's in the same round, then the median of those.
    // This machine's speed drifts by up to 2× over tens of seconds (shared host); a ratio of
    // medians taken at different moments carried that drift, a per-round ratio mostly cancels it.
    rows.forEach((row, index) => {
      const ratios = runs[index].map((run, round) => run[of] / runs[0][round][of]);
      row.ratio = median(ratios);
      row.ratioMin = Math.min(...ratios);
      row.ratioMax = Math.max(...ratios);
    });
    return rows;
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

function checkTargets(scenario, rows) {
  const targets = [scenario.target ?? scenario.targets ?? []].flat().filter(Boolean);
  return targets.map((target) => {
    const row = rows.find((candidate) => candidate.label === target.label);
    if (!row) return `FAIL ${target.label}: no such row`;
    const checks = [];
    if (target.minRatio !== undefined) {
      checks.push([
        row.ratio >= target.minRatio,
        `ratio to bare ${fmt(row.ratio, 2)} ≥ ${target.minRatio}`,
      ]);
    }
    if (target.maxP99Ms !== undefined) {
      checks.push([
        row.p99 <= target.maxP99Ms,
        `p99 ${fmt(row.p99, 1)} ms ≤ ${target.maxP99Ms} ms`,
      ]);
    }
    if (target.check) checks.push(target.check(row, rows));
    return checks
      .map(([ok, text]) => `${ok ? 'PASS' : 'FAIL'} ${target.label}: ${text}`)
      .join('\n');
  });
}

function table(rows) {
  const custom = rows.some((row) => row.jobsPerSec !== undefined);
  if (custom) {
    const lines = ['| server | jobs/s | ratio |', '| --- | ---: | ---: |'];
    for (const row of rows)
      lines.push(`| ${row.label} | ${fmt(row.jobsPerSec)} | ${fmt(row.ratio, 2)} |`);
    return lines.join('\n');
  }
  const lines = [
    '| server | req/s | ratio | 2xx/s | p50 ms | p99 ms | p99 2xx ms | non-2xx | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.label} | ${fmt(row.reqPerSec)} | ${fmt(row.ratio, 2)}${row.ratioMin === undefined ? '' : ` (${fmt(row.ratioMin, 2)}–${fmt(row.ratioMax, 2)})`} | ${fmt(row.goodputPerSec)} | ${fmt(row.p50, 1)} | ${fmt(row.p99, 1)} | ${fmt(row.okP99, 1)} | ${fmt(row.non2xx)} | ${fmt(row.errors)} |`,
    );
  }
  return lines.join('\n');
}

const sections = [];
let failed = false;
try {
  for (const scenario of scenarios) {
    console.log(`\n## ${scenario.name}: ${scenario.title}`);
    const env = await dependencies(scenario);
    let rows;
    if (typeof scenario.run === 'function') {
      rows = await scenario.run({ redisUrl: env.REDIS_URL, databaseUrl: env.DATABASE_URL });
      const base = rows[0]?.jobsPerSec ?? rows[0]?.reqPerSec;
      for (const row of rows) row.ratio = (row.jobsPerSec ?? row.reqPerSec) / base;
    } else {
      rows = await runHttpScenario(scenario, env);
    }
    const verdicts = checkTargets(scenario, rows);
    if (verdicts.some((line) => line.includes('FAIL'))) failed = true;
    const load = scenario.load
      ? `${scenario.load.connections ?? 50} connections × ${scenario.load.duration ?? 10} s on ${scenario.load.method ?? 'GET'} ${scenario.load.path}${scenario.load.overallRate ? `, ${scenario.load.overallRate} req/s offered (open loop)` : ''}, ${scenario.rounds ?? 3} interleaved rounds (ratio: median of the per-round ratios to bare, min–max in brackets), ${scenario.warmupSeconds ?? 3} s warm-up`
      : 'custom run';
    const text = [
      `### ${scenario.name}: ${scenario.title}`,
      '',
      `Load: ${load}.`,
      '',
      (scenario.table ?? table)(rows),
      '',
      ...verdicts.map((line) => `- ${line}`),
    ].join('\n');
    console.log(text);
    sections.push({ name: scenario.name, text });
  }
} finally {
  await redis?.stop();
  await database?.drop();
}

// RESULTS.md keeps one section per scenario; a run replaces the sections it measured.
const resultsPath = `${root}RESULTS.md`;
const previous = existsSync(resultsPath) ? readFileSync(resultsPath, 'utf8') : '';
const kept = new Map();
for (const match of previous.matchAll(/<!-- scenario:(\S+) -->\n([\s\S]*?)<!-- \/scenario -->/g)) {
  kept.set(match[1], match[2].trim());
}
const stamp = `_${new Date().toISOString().slice(0, 10)} · Node ${process.version} · ${cpus().length} × ${cpus()[0]?.model.trim()} · ${Math.round(totalmem() / 2 ** 30)} GiB · taskset ${hasTaskset ? 'on (servers CPU 0, load CPU 1)' : 'off'} · \`pnpm bench ${wanted.join(' ')}\`_`;
for (const { name, text } of sections) kept.set(name, `${text}\n\n${stamp}`);
const body = [...kept.entries()]
  .sort(([a], [b]) => a.localeCompare(b))
  .map(([name, text]) => `<!-- scenario:${name} -->\n${text}\n<!-- /scenario -->`)
  .join('\n\n');
writeFileSync(
  resultsPath,
  `# Benchmark results\n\nWritten by \`pnpm bench\` (bench/run.mjs). Each section is one scenario, measured against bare Fastify in the same run; the line under it says when, on what and with which command.\n\n${body}\n`,
);
console.log(`\nwrote ${resultsPath}`);
process.exit(failed ? 1 : 0);
