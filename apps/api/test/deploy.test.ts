import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type ChildApp,
  freePort,
  type RedisServer,
  spawnApp,
  startRedis,
  waitFor,
} from '@bulwark/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { ConfigSchema, loadConfig } from '../src/config.js';

// deploy/ (Kubernetes manifests, compose file, Dockerfile) checked against the API's own
// configuration and routes, so the kit cannot drift from the code it deploys.

const apiRoot = fileURLToPath(new URL('..', import.meta.url));
const deploy = (path: string) =>
  readFileSync(fileURLToPath(new URL(`../../../deploy/${path}`, import.meta.url)), 'utf8');

type Env = { name: string; value?: string; valueFrom?: unknown };
interface Container {
  name: string;
  ports?: { name?: string; containerPort: number }[];
  env?: Env[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
}
interface Probe {
  httpGet: { path: string; port: string | number };
}
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML documents are checked field by field
type Doc = any;

const manifests: Doc[] = ['config.yaml', 'api.yaml', 'worker.yaml'].flatMap((file) =>
  parseAllDocuments(deploy(`k8s/${file}`)).map((document) => document.toJS()),
);
const byKind = (kind: string, name: string): Doc =>
  manifests.find((doc) => doc.kind === kind && doc.metadata.name === name);
const secret = byKind('Secret', 'bulwark-secrets');
const compose = parse(deploy('compose.yaml'), { merge: true });
const known = new Set(Object.keys(ConfigSchema.properties));

/** A container's environment as the pod sees it: envFrom first, then env (which wins). */
function podEnv(container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const source = from.configMapRef
      ? byKind('ConfigMap', from.configMapRef.name)
      : byKind('Secret', from.secretRef?.name ?? '');
    expect(source, JSON.stringify(from)).toBeDefined();
    Object.assign(env, source.data ?? source.stringData);
  }
  for (const entry of container.env ?? []) {
    const ref = (entry.valueFrom as { secretKeyRef?: { name: string; key: string } } | undefined)
      ?.secretKeyRef;
    if (ref) {
      expect(ref.name).toBe('bulwark-secrets');
      expect(Object.keys(secret.stringData)).toContain(ref.key);
      env[entry.name] = secret.stringData[ref.key];
    } else {
      env[entry.name] = String(entry.value);
    }
  }
  return env;
}

const apiDeployment = byKind('Deployment', 'bulwark-api');
const workerDeployment = byKind('Deployment', 'bulwark-worker');
const apiContainer: Container = apiDeployment.spec.template.spec.containers[0];
const workerContainer: Container = workerDeployment.spec.template.spec.containers[0];
const apiEnv = podEnv(apiContainer);
const workerEnv = podEnv(workerContainer);

/** The Dockerfile's instructions of one target stage (`FROM … AS <name>` up to the next FROM). */
function dockerStage(name: string): string {
  const stage = deploy('Dockerfile')
    .split(/^(?=FROM )/m)
    .find((part) => new RegExp(`^FROM \\S+ AS ${name}\\s`).test(part));
  expect(stage, `Dockerfile target ${name}`).toBeDefined();
  return stage ?? '';
}
/** The paths a HEALTHCHECK (or compose health check) fetches on 127.0.0.1 and `variable`'s port. */
const healthcheckPaths = (text: string, variable: string) =>
  [
    ...text.matchAll(
      new RegExp(
        `127\\.0\\.0\\.1:'\\+\\(process\\.env\\.${variable}\\|\\|(\\d+)\\)\\+'([^']+)'`,
        'g',
      ),
    ),
  ].map((match) => ({ fallbackPort: Number(match[1]), path: match[2] ?? '' }));
/** The worker's compose health-check command, one string. */
const composeWorkerCheck = [compose.services.worker.healthcheck?.test ?? []].flat().join(' ');

/** A pod's shutdown budget in ms: its SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS. */
const shutdownMs = (env: Record<string, string>) => {
  const config = loadConfig(env);
  // Unset, the delay is 5000 in production (the health plugin's default); the kit sets it.
  expect(config.SHUTDOWN_DELAY_MS, 'the kit sets SHUTDOWN_DELAY_MS explicitly').toBeDefined();
  return (config.SHUTDOWN_DELAY_MS ?? 5000) + config.SHUTDOWN_TIMEOUT_MS;
};

describe('deploy kit against the API configuration', () => {
  it('sets only environment variables the API reads, and each container’s set is a valid production configuration', () => {
    for (const [name, env] of [
      ['k8s api', apiEnv],
      ['k8s worker', workerEnv],
      ['compose api', compose.services.api.environment],
      ['compose worker', compose.services.worker.environment],
    ] as const) {
      const unknown = Object.keys(env).filter((key) => !known.has(key));
      expect(unknown, `${name} sets variables the API does not read`).toStrictEqual([]);
      // Compose values are `${VAR:?…}` interpolations; stand in a valid value of each kind.
      const resolved = Object.fromEntries(
        Object.entries(env as Record<string, string>).map(([key, value]) => [
          key,
          String(value).replace(/\$\{([A-Z_]+)[^}]*\}/g, (_, variable: string) =>
            variable === 'CORS_ORIGIN'
              ? 'https://app.example.com'
              : `${variable.toLowerCase()}-0123456789abcdef0123456789abcdef`,
          ),
        ]),
      );
      expect(() => loadConfig(resolved), name).not.toThrow();
      expect(resolved.NODE_ENV, name).toBe('production');
    }
  });

  it('gives the API and the worker more grace than their shutdown delay plus timeout, in Kubernetes and compose', () => {
    for (const [deployment, env] of [
      [apiDeployment, apiEnv],
      [workerDeployment, workerEnv],
    ] as const) {
      expect(
        deployment.spec.template.spec.terminationGracePeriodSeconds * 1000,
        deployment.metadata.name,
      ).toBeGreaterThan(shutdownMs(env));
    }
    for (const service of ['api', 'worker']) {
      const composeEnv = compose.services[service].environment;
      const composeShutdownMs =
        Number(composeEnv.SHUTDOWN_DELAY_MS) + Number(composeEnv.SHUTDOWN_TIMEOUT_MS);
      expect(Number.isFinite(composeShutdownMs), service).toBe(true);
      expect(
        Number.parseInt(compose.services[service].stop_grace_period, 10) * 1000,
        service,
      ).toBeGreaterThan(composeShutdownMs);
    }
  });

  it('points every port at the one the API listens on', () => {
    const port = loadConfig(apiEnv).PORT;
    const named = new Map((apiContainer.ports ?? []).map((p) => [p.name, p.containerPort]));
    expect([...named.values()]).toStrictEqual([port]);
    for (const probe of [
      apiContainer.startupProbe,
      apiContainer.livenessProbe,
      apiContainer.readinessProbe,
    ]) {
      const target = probe?.httpGet.port;
      expect(typeof target === 'string' ? named.get(target) : target).toBe(port);
    }
    const service = byKind('Service', 'bulwark-api');
    for (const servicePort of service.spec.ports) {
      expect(named.get(servicePort.targetPort) ?? servicePort.targetPort).toBe(port);
    }
    expect(service.spec.selector).toStrictEqual(apiDeployment.spec.selector.matchLabels);
    for (const name of ['bulwark-api', 'bulwark-worker']) {
      const budget = byKind('PodDisruptionBudget', name);
      expect(budget.spec.selector.matchLabels).toStrictEqual(
        byKind('Deployment', name).spec.selector.matchLabels,
      );
    }
    expect(compose.services.api.ports).toStrictEqual([`${port}:${port}`]);
    expect(Number(compose.services.api.environment.PORT)).toBe(port);
    const api = dockerStage('api');
    expect(api).toMatch(new RegExp(`^EXPOSE ${port}$`, 'm'));
    expect(healthcheckPaths(api, 'PORT').map((check) => check.fallbackPort)).toStrictEqual([port]);
  });

  it('points every worker port at the one the worker serves its health probes on', () => {
    const port = loadConfig(workerEnv).WORKER_HEALTH_PORT;
    const named = new Map((workerContainer.ports ?? []).map((p) => [p.name, p.containerPort]));
    expect([...named.values()]).toStrictEqual([port]);
    const probes = [
      workerContainer.startupProbe,
      workerContainer.livenessProbe,
      workerContainer.readinessProbe,
    ];
    expect(probes.every((probe) => probe !== undefined)).toBe(true);
    for (const probe of probes) {
      const target = probe?.httpGet.port;
      expect(typeof target === 'string' ? named.get(target) : target).toBe(port);
    }
    // The image's default and what the health check falls back to are the same port.
    const worker = dockerStage('worker');
    expect(worker).toMatch(new RegExp(`^EXPOSE ${port}$`, 'm'));
    expect(worker).toMatch(new RegExp(`^ENV WORKER_HEALTH_PORT=${port}$`, 'm'));
    expect(
      healthcheckPaths(worker, 'WORKER_HEALTH_PORT').map((check) => check.fallbackPort),
    ).toStrictEqual([port]);
    // Compose: the same port on the compose network, published nowhere (Grafana owns host 3001).
    const composeWorker = compose.services.worker;
    expect(Number(composeWorker.environment.WORKER_HEALTH_PORT)).toBe(port);
    expect(composeWorker.ports).toBeUndefined();
    expect(healthcheckPaths(composeWorkerCheck, 'WORKER_HEALTH_PORT')).toHaveLength(1);
    // Prometheus scrapes the worker where it serves /metrics, with the same token as the API.
    const prometheus = parse(deploy('prometheus/prometheus.yml'));
    const job = prometheus.scrape_configs.find(
      (config: Doc) => config.job_name === 'bulwark-worker',
    );
    expect(job?.static_configs[0].targets).toStrictEqual([`worker:${port}`]);
    expect(job?.authorization.credentials_file).toBe('/run/secrets/metrics_token');
    expect(compose.secrets.metrics_token.environment).toBe('METRICS_TOKEN');
  });

  describe('probe paths against the running API', () => {
    let app: ChildApp;
    beforeAll(async () => {
      app = await spawnApp({
        args: ['dist/server.js'],
        cwd: apiRoot,
        env: { NODE_ENV: 'test', LOG_LEVEL: 'warn', DATABASE_URL: inject('databaseUrl') },
      });
    });
    afterAll(async () => {
      await app?.stop();
    });

    it('answers every probe path the manifests and the Dockerfile name', async () => {
      const paths = [
        apiContainer.startupProbe?.httpGet.path,
        apiContainer.livenessProbe?.httpGet.path,
        apiContainer.readinessProbe?.httpGet.path,
        ...[
          ...deploy('Dockerfile').matchAll(
            /127\.0\.0\.1:'\+\(process\.env\.PORT\|\|\d+\)\+'([^']+)'/g,
          ),
        ].map((match) => match[1]),
      ];
      expect(paths).toHaveLength(4);
      for (const path of paths) {
        const response = await fetch(`${app.url}${path}`);
        expect(response.status, path).toBe(200);
      }
    });
  });
  describe('probe paths against a running worker', () => {
    let redis: RedisServer | undefined;
    let worker: ChildProcess | undefined;
    let exited: Promise<unknown[]> | undefined;
    let output = '';
    let base = '';
    beforeAll(async () => {
      redis = await startRedis();
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      // The worker manifest's own environment (production, its secrets from the template), with
      // this run's PostgreSQL and Redis and a free port on loopback.
      worker = spawn(process.execPath, ['dist/worker.js'], {
        cwd: apiRoot,
        env: {
          ...process.env,
          ...workerEnv,
          LOG_LEVEL: 'warn',
          DATABASE_URL: inject('databaseUrl'),
          REDIS_URL: redis.url,
          WORKER_HEALTH_PORT: String(port),
          HOST: '127.0.0.1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      for (const stream of [worker.stdout, worker.stderr]) {
        stream?.on('data', (chunk: Buffer) => {
          output += chunk.toString();
        });
      }
      // 'close', not 'exit': it comes after the output pipes have been read to their end.
      exited = once(worker, 'close');
      await waitFor(
        async () => {
          if (worker?.exitCode !== null) throw new Error(`the worker exited:\n${output}`);
          return (await fetch(`${base}/health/live`).catch(() => undefined))?.status === 200;
        },
        { what: `the worker's health port (${output})`, timeoutMs: 30_000 },
      );
    });
    afterAll(async () => {
      worker?.kill('SIGKILL');
      await exited;
      await redis?.stop();
    });

    it('answers every probe path the worker manifest, the Dockerfile and compose name, and /metrics with its token', async () => {
      const paths = [
        workerContainer.startupProbe?.httpGet.path,
        workerContainer.livenessProbe?.httpGet.path,
        workerContainer.readinessProbe?.httpGet.path,
        ...healthcheckPaths(dockerStage('worker'), 'WORKER_HEALTH_PORT').map((check) => check.path),
        ...healthcheckPaths(composeWorkerCheck, 'WORKER_HEALTH_PORT').map((check) => check.path),
      ];
      expect(paths).toHaveLength(5);
      for (const path of paths) {
        // Readiness may take a moment: the consumer check passes once the consumer has started.
        await waitFor(async () => (await fetch(`${base}${path}`)).status === 200, {
          what: `${path} to answer 200 (${output})`,
          timeoutMs: 20_000,
        });
      }
      expect((await fetch(`${base}/metrics`)).status).toBe(401);
      const metrics = await fetch(`${base}/metrics`, {
        headers: { authorization: `Bearer ${workerEnv.METRICS_TOKEN}` },
      });
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('health_check_status');
      const detailed = await fetch(`${base}/health/detailed`, {
        headers: { authorization: `Bearer ${workerEnv.HEALTH_TOKEN}` },
      });
      expect(detailed.status).toBe(200);
      const body = (await detailed.json()) as { checks: Record<string, unknown> };
      expect(Object.keys(body.checks)).toContain('queue:email:consumer');
    });

    it('shuts down on SIGTERM within the grace period the manifest gives it, exit 0', async () => {
      const graceMs = workerDeployment.spec.template.spec.terminationGracePeriodSeconds * 1000;
      worker?.kill('SIGTERM');
      // A generous bound (Kubernetes' own): past it the pod would be SIGKILLed mid-shutdown.
      let timer: NodeJS.Timeout | undefined;
      const [code] = (await Promise.race([
        exited,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`still running after ${graceMs} ms`)), graceMs);
        }),
      ]).finally(() => clearTimeout(timer))) as [number | null];
      // 1 would mean the health plugin's SHUTDOWN_TIMEOUT_MS deadline cut a step short.
      expect(code, output).toBe(0);
    });
  });
});
