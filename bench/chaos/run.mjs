// The fault-injection suite: the reference API as real processes under steady load, on real
// Redis and PostgreSQL owned by the run, while scenarios kill, cut and slow its dependencies.
// Usage (from the repository root): pnpm chaos [--short] [scenario ...]
// A scenario is named by its name (`redis-kill`) or number (`2`). Prints PASS/FAIL per bound,
// writes bench/CHAOS.md (a run replaces the sections of the scenarios it ran) and exits 1 when
// any bound failed. .ci/run runs it with --short after the tests.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defaultAdminUrl } from '@bulwark/testing';
import { query } from './lib/postgres.mjs';
import { killAll, runningCount } from './lib/processes.mjs';

const root = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const short = args.includes('--short');
const wanted = args.filter((arg) => !arg.startsWith('--'));

const files = readdirSync(`${root}scenarios`)
  .filter((file) => file.endsWith('.mjs'))
  .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
const scenarios = [];
for (const file of files) {
  const scenario = (await import(`./scenarios/${file}`)).default;
  scenario.number = String(Number.parseInt(file, 10));
  if (wanted.length === 0 || wanted.some((name) => [scenario.name, scenario.number].includes(name)))
    scenarios.push(scenario);
}
const unknown = wanted.filter(
  (name) => !scenarios.some((scenario) => [scenario.name, scenario.number].includes(name)),
);
if (unknown.length > 0) {
  console.error(`unknown scenario(s): ${unknown.join(', ')}; have: ${files.join(', ')}`);
  process.exit(2);
}

// Children of this process still alive (redis-server, node): none may outlive a scenario.
function children() {
  try {
    return readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

// Ctrl-C, or a bug in the suite itself: the scenario's finally blocks will not run, so kill
// every child process and drop this run's databases (createDatabase names them
// bulwark_chaos_<pid>_<hex>) before leaving.
const adminUrl = process.env.TEST_DATABASE_URL ?? defaultAdminUrl;
let aborting = false;
function abort(reason, code) {
  if (aborting) return;
  aborting = true;
  console.error(`\n${reason}: killing the processes of this run`);
  void killAll()
    .then(() => {
      for (const pid of children()) process.kill(pid, 'SIGKILL');
      return query(
        adminUrl,
        `SELECT datname FROM pg_database WHERE datname LIKE 'bulwark\\_chaos\\_${process.pid}\\_%'`,
      );
    })
    .then((rows) =>
      Promise.all(
        rows.map(({ datname }) =>
          query(adminUrl, `DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`),
        ),
      ),
    )
    .catch((error) => console.error(`cleanup: ${error.message}`))
    .finally(() => process.exit(code));
}
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => abort(signal, 130));
process.on('uncaughtException', (error) => abort(`uncaught ${error.stack}`, 1));
process.on('unhandledRejection', (error) =>
  abort(`unhandled rejection ${error?.stack ?? error}`, 1),
);

const mode = short ? 'short' : 'full';
const sections = [];
let failedAny = false;
const suiteStarted = performance.now();

for (const scenario of scenarios) {
  console.log(`\n## ${scenario.number}. ${scenario.name}: ${scenario.title} (${mode})`);
  const lines = [];
  const figures = [];
  const notes = [];
  const check = (ok, bound, measured) => {
    const line = `${ok ? 'PASS' : 'FAIL'} ${scenario.name}: ${bound} (${measured})`;
    if (!ok) failedAny = true;
    lines.push(line);
    console.log(line);
  };
  const context = {
    short,
    check,
    figure(label, value) {
      figures.push([label, value]);
      console.log(`  ${label}: ${value}`);
    },
    note(text) {
      notes.push(text);
    },
    log(text) {
      console.log(`  · ${text}`);
    },
  };
  const started = performance.now();
  try {
    await scenario.run(context);
  } catch (error) {
    check(false, 'runs to the end', `${error.stack ?? error}`.split('\n').slice(0, 6).join(' | '));
  } finally {
    const leakedTracked = runningCount();
    await killAll();
    const leaked = children();
    for (const pid of leaked) process.kill(pid, 'SIGKILL');
    check(
      leakedTracked === 0 && leaked.length === 0,
      'every process it started is stopped',
      leaked.length === 0 && leakedTracked === 0
        ? '0 left running'
        : `${leakedTracked} API/worker and ${leaked.length} child pids left; killed`,
    );
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`  (${seconds.toFixed(0)} s)`);
  const text = [
    `### ${scenario.number}. ${scenario.name}: ${scenario.title}`,
    '',
    ...notes.flatMap((note) => [note, '']),
    '| figure | value |',
    '| --- | --- |',
    ...figures.map(([label, value]) => `| ${label} | ${String(value).replaceAll('|', '\\|')} |`),
    '',
    ...lines.map((line) => `- \`${line}\``),
    '',
    `_${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · ${mode} mode · ${seconds.toFixed(0)} s · \`pnpm chaos${short ? ' --short' : ''}${wanted.length ? ` ${wanted.join(' ')}` : ''}\`_`,
  ].join('\n');
  sections.push({ key: `${scenario.number}-${scenario.name}`, text });
}
const totalSeconds = (performance.now() - suiteStarted) / 1000;
console.log(
  `\n${failedAny ? 'FAILED' : 'all bounds PASS'} · ${mode} mode · ${totalSeconds.toFixed(0)} s`,
);

// CHAOS.md keeps one section per scenario; a run replaces the sections it ran.
const chaosPath = fileURLToPath(new URL('../CHAOS.md', import.meta.url));
const previous = existsSync(chaosPath) ? readFileSync(chaosPath, 'utf8') : '';
const kept = new Map();
for (const match of previous.matchAll(/<!-- scenario:(\S+) -->\n([\s\S]*?)<!-- \/scenario -->/g)) {
  kept.set(match[1], match[2].trim());
}
for (const { key, text } of sections) kept.set(key, text);
const body = [...kept.entries()]
  .sort(([a], [b]) => Number.parseInt(a, 10) - Number.parseInt(b, 10))
  .map(([key, text]) => `<!-- scenario:${key} -->\n${text}\n<!-- /scenario -->`)
  .join('\n\n');
const machine = `${cpus().length} × ${cpus()[0]?.model.trim()} · ${Math.round(totalmem() / 2 ** 30)} GiB · Node ${process.version} · ${process.platform}`;
writeFileSync(
  chaosPath,
  `# Chaos results

Written by \`pnpm chaos\` (bench/chaos/run.mjs): the reference API (apps/api, \`dist/server.js\`
and \`dist/worker.js\`) runs as real child processes, in production mode, under steady bounded
HTTP load from this process (127.0.0.1 only), on a redis-server and a PostgreSQL database owned by
the run, while each scenario injects one fault. Every bound is printed as PASS or FAIL; the run
exits 1 when any fails. \`--short\` shortens outages and load, with the same bounds.

All scenarios raise the API's rate limits (\`RATE_LIMIT_GLOBAL_MAX\`, \`_TENANT_MAX\`, \`_USER_MAX\`,
\`_AUTH_MAX\` = 1000000): the load comes from one IP and a few users, and the default limits
(600/min per IP, 60/min per user) would answer it 429. The limiter still decides every request.

Machine: ${machine}. Last run: ${mode} mode, ${totalSeconds.toFixed(0)} s for ${scenarios.length} scenario(s).

${body}
`,
);
console.log(`wrote ${chaosPath}`);
process.exit(failedAny ? 1 : 0);
