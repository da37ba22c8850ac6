import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type ChildApp, type RedisServer, spawnApp, startRedis, waitFor } from '@bulwark/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { apiClient, uniqueTenant } from './helpers/client.js';
import { type Family, parseExposition } from './helpers/exposition.js';
import { parsePromQL } from './helpers/promql.js';

// The metric contract of the full stack: the reference API with every plugin, on real Redis and
// real PostgreSQL, scraped after real traffic. Checks every family against the Prometheus naming
// rules, the observability README's table against the scrape, and every PromQL expression of the
// Grafana dashboard and the Prometheus rules against the scrape.

const apiRoot = fileURLToPath(new URL('..', import.meta.url));
const repo = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const rulesFile = repo('deploy/prometheus/rules/bulwark.rules.yaml');
const dashboardFile = repo('deploy/grafana/dashboards/bulwark.json');

/** Labels Prometheus itself attaches to every scraped series. */
const TARGET_LABELS = ['job', 'instance'];
/** prom-client's default gauges that end in `_total`: kept, as every Node.js dashboard uses them. */
const PROM_CLIENT_TOTAL_GAUGES = new Set([
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
]);
/** Time and size units other than the base ones Prometheus recommends. */
const NON_BASE_UNITS =
  /_(ms|millis|milliseconds|microseconds|nanoseconds|minutes|hours|days|kb|mb|gb|kilobytes|megabytes|percent)(_|$)/;

/** Debian's promtool (.ci/run installs it when missing); PROMTOOL_BIN points elsewhere. */
function findPromtool(): string | undefined {
  const binary = process.env.PROMTOOL_BIN ?? 'promtool';
  try {
    execFileSync(binary, ['--version'], { stdio: 'ignore' });
    return binary;
  } catch {
    return undefined;
  }
}
const promtool = findPromtool();
const NO_PROMTOOL =
  'promtool is not installed (apt-get install -y prometheus): this promtool check did NOT run';

/** A family is Bulwark's (listed by name in the README) unless prom-client's default collector made it. */
function isPromClientDefault(name: string): boolean {
  return (
    (name.startsWith('process_') || name.startsWith('nodejs_')) &&
    name !== 'nodejs_eventloop_utilization_ratio'
  );
}

/** The observability README's metric table: name → labels. */
function readmeTable(): Map<string, string[]> {
  const readme = readFileSync(repo('packages/observability/README.md'), 'utf8');
  const section = readme.split('\n## Metrics\n')[1]?.split('\n## ')[0] ?? '';
  return new Map(
    [...section.matchAll(/^\| `([a-z_:]+)` \| (\w+) \| ([^|]+) \|/gm)].map((match) => [
      match[1] as string,
      [...(match[3] as string).matchAll(/`([a-z_]+)`/g)].map((label) => label[1] as string),
    ]),
  );
}

describe('metrics of the full stack (real Redis, real PostgreSQL, real traffic)', () => {
  let app: ChildApp;
  let redis: RedisServer;
  let families: Map<string, Family>;
  /** Series name → the label names seen on it (samples of the scrape). */
  const seriesLabels = new Map<string, Set<string>>();
  /** Histogram family → its bucket bounds. */
  const buckets = new Map<string, Set<string>>();

  beforeAll(async () => {
    redis = await startRedis();
    app = await spawnApp({
      args: ['dist/server.js'],
      cwd: apiRoot,
      env: {
        NODE_ENV: 'test',
        // Every test client is 127.0.0.1: the per-IP login tier would stop the fixture's sign-ups.
        RATE_LIMIT_AUTH_IP_MAX: '1000000',
        LOG_LEVEL: 'warn',
        DATABASE_URL: inject('databaseUrl'),
        REDIS_URL: redis.url,
      },
    });
    // Traffic that makes the labelled series exist: routes answered 2xx/4xx, a rate-limited
    // login (the auth tier), a job through the queue (the welcome email), breaker calls.
    const api = apiClient(app.url);
    const tenant = uniqueTenant('metrics');
    expect((await api.register(tenant, 'metrics@x.test')).status).toBe(201);
    const token = await api.login(tenant, 'metrics@x.test');
    expect(
      (await api.request('POST', '/api/v1/notes', { token, body: { title: 't', body: '' } }))
        .status,
    ).toBe(201);
    expect((await api.request('GET', '/api/v1/notes', { token })).status).toBe(200);
    expect((await api.request('GET', '/no-such-route')).status).toBe(404);
    let limited = false;
    for (let attempt = 0; attempt < 10 && !limited; attempt++) {
      const response = await api.request('POST', '/auth/login', {
        body: { tenant, email: 'metrics@x.test', password: 'wrong password!' },
      });
      limited = response.status === 429;
    }
    expect(limited).toBe(true);
    const scrape = async () => (await fetch(`${app.url}/metrics`)).text();
    const text = await waitFor(
      async () => {
        const body = await scrape();
        return (
          body.includes('queue_jobs_total{queue="email",outcome="completed"}') &&
          body.includes('queue_depth{queue="email",state="waiting"}') &&
          body
        );
      },
      { what: 'the welcome email job completed and queue depth sampled', timeoutMs: 30_000 },
    );
    families = parseExposition(text);
    for (const family of families.values()) {
      for (const sample of family.samples) {
        const labels = seriesLabels.get(sample.name) ?? new Set<string>();
        for (const label of Object.keys(sample.labels)) labels.add(label);
        seriesLabels.set(sample.name, labels);
        if (sample.name.endsWith('_bucket') && sample.labels.le !== undefined) {
          const bounds = buckets.get(family.name) ?? new Set<string>();
          bounds.add(sample.labels.le);
          buckets.set(family.name, bounds);
        }
      }
    }
  });
  afterAll(async () => {
    await app?.stop();
    await redis?.stop();
  });

  describe('naming', () => {
    it('follows the Prometheus naming rules in every family', () => {
      const problems: string[] = [];
      for (const family of families.values()) {
        const { name, type } = family;
        const problem = (rule: string) => problems.push(`${name} (${type}): ${rule}`);
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) problem('not snake_case');
        if (!family.help) problem('no HELP text');
        if (type === 'counter' && !name.endsWith('_total')) problem('a counter must end in _total');
        if (type !== 'counter' && name.endsWith('_total') && !PROM_CLIENT_TOTAL_GAUGES.has(name)) {
          problem('only counters end in _total');
        }
        if (NON_BASE_UNITS.test(name)) problem('use base units (_seconds, _bytes, _ratio)');
        if (type === 'histogram' && !/_(seconds|bytes)$/.test(name)) {
          problem('a histogram names its unit (_seconds or _bytes)');
        }
        if (/(^|_)(count|sum|bucket)$/.test(name) && type !== 'counter') {
          problem('reserved suffix');
        }
        for (const sample of family.samples) {
          for (const label of Object.keys(sample.labels)) {
            if (!/^[a-z_][a-z0-9_]*$/.test(label) || label.startsWith('__')) {
              problem(`label ${label} is not snake_case`);
            }
            if (label === 'le' && type !== 'histogram') problem('le outside a histogram');
          }
        }
      }
      expect(problems).toStrictEqual([]);
    });

    it('has every family the issue renamed, and none of the old names', () => {
      for (const name of [
        'nodejs_eventloop_utilization_ratio',
        'db_pool_connections',
        'db_pool_max_connections',
        'db_pool_pending_requests',
        'circuit_breaker_state',
        'queue_jobs_total',
      ]) {
        expect(families.has(name), name).toBe(true);
      }
      for (const old of [
        'nodejs_eventloop_utilization',
        'db_pool_total',
        'db_pool_idle',
        'db_pool_waiting',
      ]) {
        expect(families.has(old), old).toBe(false);
      }
    });

    it('encodes breaker state as one 1/0 series per state, exactly one 1 per breaker', () => {
      const samples = families.get('circuit_breaker_state')?.samples ?? [];
      const breakers = new Set(samples.map((sample) => sample.labels.breaker));
      expect(breakers.has('postgres')).toBe(true);
      for (const breaker of breakers) {
        const mine = samples.filter((sample) => sample.labels.breaker === breaker);
        expect(mine.map((sample) => sample.labels.state).sort()).toStrictEqual([
          'closed',
          'half-open',
          'open',
        ]);
        expect(mine.map((sample) => sample.value).sort()).toStrictEqual([0, 0, 1]);
      }
    });

    it('counts each job attempt under exactly one outcome', () => {
      const outcomes = new Set(
        (families.get('queue_jobs_total')?.samples ?? []).map((sample) => sample.labels.outcome),
      );
      expect(outcomes.has('completed')).toBe(true);
      for (const outcome of outcomes) expect(['completed', 'retried', 'failed']).toContain(outcome);
    });

    it('passes promtool check metrics, but for prom-client’s own _total gauges', async (context) => {
      if (!promtool) context.skip(NO_PROMTOOL);
      const scrape = await (await fetch(`${app.url}/metrics`)).text();
      // promtool exits 1 when it finds a problem and prints one line per problem.
      const result = spawnSync(promtool as string, ['check', 'metrics'], { input: scrape });
      const output = `${result.stdout}${result.stderr}`;
      const problems = output
        .split('\n')
        .filter(
          (line) =>
            line.trim() && ![...PROM_CLIENT_TOTAL_GAUGES].some((name) => line.startsWith(name)),
        );
      expect(problems).toStrictEqual([]);
    });
  });

  describe('observability README', () => {
    it('lists exactly the Bulwark families the scrape has, with the labels it shows', () => {
      const table = readmeTable();
      const scraped = [...families.keys()].filter((name) => !isPromClientDefault(name));
      const missing = scraped.filter((name) => !table.has(name));
      expect(missing, 'families missing from the README table').toStrictEqual([]);
      // Families whose plugin did not register them in this app (none today) would be stale rows.
      const stale = [...table.keys()].filter((name) => !families.has(name));
      expect(stale, 'README rows the full stack does not export').toStrictEqual([]);
      for (const name of scraped) {
        const family = families.get(name) as Family;
        if (family.samples.length === 0) continue;
        const labels = new Set(
          family.samples.flatMap((sample) => Object.keys(sample.labels)).filter((l) => l !== 'le'),
        );
        expect([...labels].sort(), name).toStrictEqual([...(table.get(name) ?? [])].sort());
      }
    });
  });

  describe('dashboard and rules', () => {
    const rules = parse(readFileSync(rulesFile, 'utf8')) as {
      groups: { name: string; rules: { record?: string; alert?: string; expr: string }[] }[];
    };
    const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
      templating: { list: { name: string; query: { query: string } }[] };
    };

    /** Label names a series offers: from its samples, or the README for a family with none yet. */
    function labelsOf(series: string, recorded: Map<string, string[]>): Set<string> | undefined {
      if (series === 'up') return new Set(TARGET_LABELS);
      const fromRule = recorded.get(series);
      if (fromRule) return new Set(fromRule);
      const family = [...families.values()].find(
        (candidate) =>
          candidate.name === series ||
          (candidate.type === 'histogram' &&
            ['_bucket', '_sum', '_count'].some((suffix) => candidate.name + suffix === series)),
      );
      if (!family) return undefined;
      const seen = seriesLabels.get(series);
      const labels = new Set(seen && seen.size > 0 ? seen : (readmeTable().get(family.name) ?? []));
      if (series.endsWith('_bucket')) labels.add('le');
      for (const label of TARGET_LABELS) labels.add(label);
      return labels;
    }

    function check(expression: string, where: string, recorded: Map<string, string[]>): string[] {
      const problems: string[] = [];
      const parsed = parsePromQL(expression);
      const available = new Set<string>();
      for (const selector of parsed.selectors) {
        const labels = labelsOf(selector.metric, recorded);
        if (!labels) {
          problems.push(`${where}: no series ${selector.metric}`);
          continue;
        }
        for (const label of labels) available.add(label);
        for (const matcher of selector.matchers) {
          if (!labels.has(matcher.label)) {
            problems.push(`${where}: ${selector.metric} has no label ${matcher.label}`);
          }
          if (matcher.label === 'le') {
            const family = selector.metric.replace(/_bucket$/, '');
            if (!buckets.get(family)?.has(matcher.value)) {
              problems.push(`${where}: ${family} has no bucket le="${matcher.value}"`);
            }
          }
        }
      }
      for (const label of parsed.groupingLabels) {
        if (!available.has(label)) problems.push(`${where}: no selected series has label ${label}`);
      }
      return problems;
    }

    /** Recording rules in file order: each one's name and the labels its aggregation keeps. */
    function recordedSeries(): Map<string, string[]> {
      const recorded = new Map<string, string[]>();
      for (const group of rules.groups) {
        for (const rule of group.rules) {
          if (!rule.record) continue;
          const kept = parsePromQL(rule.expr).groupingLabels.filter((label) => label !== 'le');
          recorded.set(rule.record, [...new Set(kept)]);
        }
      }
      return recorded;
    }

    it('names only metrics and labels the full stack exports, in every rule', () => {
      const recorded = recordedSeries();
      const problems = rules.groups.flatMap((group) =>
        group.rules.flatMap((rule) =>
          check(rule.expr, `${group.name}/${rule.record ?? rule.alert}`, recorded),
        ),
      );
      expect(problems).toStrictEqual([]);
      console.info(
        'families checked against the README only (no sample in this scrape):',
        [...families.values()].filter((f) => f.samples.length === 0).map((f) => f.name),
      );
      expect(rules.groups.flatMap((group) => group.rules).length).toBeGreaterThan(20);
    });

    it('names only metrics and labels the full stack exports, in every dashboard panel', () => {
      const recorded = recordedSeries();
      const problems: string[] = [];
      let expressions = 0;
      for (const panel of dashboard.panels) {
        for (const target of panel.targets ?? []) {
          expressions++;
          // Grafana's variables, as Grafana substitutes them before Prometheus sees the query.
          const expression = target.expr
            .replaceAll('$__rate_interval', '5m')
            .replaceAll('$job', '.*');
          problems.push(...check(expression, panel.title, recorded));
        }
      }
      for (const variable of dashboard.templating.list) {
        const match = /^label_values\((\w+), (\w+)\)$/.exec(variable.query.query);
        expect(match, variable.name).not.toBeNull();
        const labels = labelsOf(match?.[1] as string, recorded);
        if (!labels?.has(match?.[2] as string)) problems.push(`variable ${variable.name}`);
      }
      expect(problems).toStrictEqual([]);
      expect(expressions).toBeGreaterThan(25);
    });

    it('finds a wrong metric or label name (the checker itself)', () => {
      const recorded = recordedSeries();
      expect(check('rate(http_requests_total{path="/x"}[5m])', 'probe', recorded)).toStrictEqual([
        'probe: http_requests_total has no label path',
      ]);
      expect(check('sum by (tenant) (db_pool_total)', 'probe', recorded)).toStrictEqual([
        'probe: no series db_pool_total',
        'probe: no selected series has label tenant',
      ]);
      expect(
        check('http_request_duration_seconds_bucket{le="0.3"}', 'probe', recorded),
      ).toStrictEqual(['probe: http_request_duration_seconds has no bucket le="0.3"']);
    });

    it('fires each unit-tested alert on its failure and none on a healthy service (promtool test rules)', async (context) => {
      if (!promtool) context.skip(NO_PROMTOOL);
      const { stdout } = await promisify(execFile)(promtool as string, [
        'test',
        'rules',
        rulesFile.replace(/\.yaml$/, '.test.yaml'),
      ]);
      expect(stdout).toContain('SUCCESS');
    });

    it('passes promtool check rules', async (context) => {
      // .ci/run installs Debian's `prometheus` package, which ships promtool; only a machine
      // where that is impossible skips, and says so.
      if (!promtool) context.skip(NO_PROMTOOL);
      const { stdout } = await promisify(execFile)(promtool as string, [
        'check',
        'rules',
        rulesFile,
      ]);
      expect(stdout).toContain('SUCCESS');
    });
  });
});
