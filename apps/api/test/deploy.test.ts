import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type ChildApp, spawnApp } from '@bulwark/testing';
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

describe('deploy kit against the API configuration', () => {
  it('sets only environment variables the API reads, and each container’s set is a valid production configuration', () => {
    for (const [name, env] of [
      ['k8s api', apiEnv],
      ['k8s worker', podEnv(workerContainer)],
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

  it('gives the API more grace than its shutdown delay plus timeout, in Kubernetes and compose', () => {
    const config = loadConfig(apiEnv);
    const shutdownMs = (config.SHUTDOWN_DELAY_MS ?? 5000) + config.SHUTDOWN_TIMEOUT_MS;
    expect(apiDeployment.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
      shutdownMs,
    );
    const composeEnv = compose.services.api.environment;
    const composeShutdownMs =
      Number(composeEnv.SHUTDOWN_DELAY_MS) + Number(composeEnv.SHUTDOWN_TIMEOUT_MS);
    expect(Number.isFinite(composeShutdownMs)).toBe(true);
    expect(Number.parseInt(compose.services.api.stop_grace_period, 10) * 1000).toBeGreaterThan(
      composeShutdownMs,
    );
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
    expect(deploy('Dockerfile')).toContain(`EXPOSE ${port}`);
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
});
