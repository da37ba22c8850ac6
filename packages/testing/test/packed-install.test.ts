import { execFile, execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runnable, usageExample } from './helpers/readme-examples.js';

const run = promisify(execFile);
const workspace = fileURLToPath(new URL('../../..', import.meta.url));
const plugins = ['observability', 'health', 'limits', 'resilience', 'queue'] as const;
// npm run by the Node running this test (Node 24 when the suite runs on 24), so its engine checks
// are that Node's: `npm` on PATH would run on the machine's default Node.
const npmCli = realpathSync(execFileSync('which', ['npm'], { encoding: 'utf8' }).trim());
// The children run as in an app outside the workspace: pnpm's NODE_PATH would let them resolve
// the workspace's hoisted packages (pino-pretty, OpenTelemetry) that the project does not have,
// and the pnpm-only settings pnpm exports as npm_config_* when it runs `pnpm test` make npm warn
// "Unknown env config" in an app that never saw pnpm (the registry and proxy settings stay).
const pnpmOnly = new Set([
  'npm_config_verify_deps_before_run',
  'npm_config_npm_globalconfig',
  'npm_config__jsr_registry',
]);
const outsideEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) => name !== 'NODE_PATH' && !pnpmOnly.has(name.toLowerCase()),
  ),
);
const nodeMajor = Number(process.versions.node.split('.')[0]);
const camel = (name: string) => `bulwark${name[0]!.toUpperCase()}${name.slice(1)}`;

// The same registration, as a user would write it after `npm install @bulwark/<pkg>`.
const imports = plugins
  .map(
    (name) =>
      `import ${name}, { ${camel(name)}, errors as ${name}Errors } from '@bulwark/${name}';`,
  )
  .join('\n');
const registrations = plugins.map((name) => `await app.register(${name});`).join('\n');
const checks = plugins
  .map(
    (name) =>
      `if (typeof ${camel(name)} !== 'function' || typeof ${name}Errors !== 'object') throw new Error('${name}: named exports missing');\nif (!app.hasPlugin('@bulwark/${name}')) throw new Error('${name} not registered');`,
  )
  .join('\n');
const program = `import Fastify from 'fastify';
${imports}

const app = Fastify();
${registrations}
app.get('/hello', async () => ({ hello: 'world' }));
await app.ready();
${checks}
const response = await app.inject({ method: 'GET', url: '/hello' });
await app.close();
console.log('registered', ${plugins.length}, 'plugins; /hello ->', response.statusCode);
`;

/**
 * Packs every publishable package exactly as `pnpm publish` would (workspace: ranges
 * rewritten, only `files` included), installs the tarballs with npm in a project outside the
 * workspace, and uses them from plain JavaScript and from TypeScript.
 */
describe('packed tarballs', () => {
  let project: string;
  let installWarnings = '';
  beforeAll(async () => {
    project = await mkdtemp(join(tmpdir(), 'bulwark-packed-'));
    const tarballs = join(project, 'tarballs');
    for (const name of plugins) {
      await run('pnpm', ['pack', '--pack-destination', tarballs], {
        cwd: join(workspace, 'packages', name),
      });
    }
    const files = (await readdir(tarballs)).map((file) => join(tarballs, file));
    expect(files).toHaveLength(plugins.length);
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'bulwark-consumer', private: true, type: 'module' }),
    );
    // No OpenTelemetry and no pino-pretty: the optional peers stay uninstalled, as in an app that
    // neither traces nor pretty-prints. pg and TypeBox: the health and queue README examples.
    const install = await run(
      process.execPath,
      [
        npmCli,
        'install',
        '--no-audit',
        '--no-fund',
        '--loglevel=warn',
        ...files,
        'fastify@^5',
        'typescript@5.9.3',
        '@types/node@^20',
        'pg@^8',
        '@types/pg@^8',
        '@sinclair/typebox@^0.34',
      ],
      { cwd: project, env: outsideEnv, maxBuffer: 16 * 1024 * 1024 },
    );
    installWarnings = install.stderr;
  }, 240_000);
  afterAll(async () => {
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('registers every plugin from plain JavaScript', async () => {
    await writeFile(join(project, 'app.mjs'), program);
    const { stdout } = await run(process.execPath, ['app.mjs'], { cwd: project });
    expect(stdout.trim()).toBe(`registered ${plugins.length} plugins; /hello -> 200`);
  });

  it('type-checks a TypeScript file that registers every plugin', async () => {
    await writeFile(join(project, 'app.ts'), program);
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          types: ['node'],
          skipLibCheck: false,
        },
        files: ['app.ts'],
      }),
    );
    const result = await run(join(project, 'node_modules/.bin/tsc'), ['-p', '.'], {
      cwd: project,
    }).catch((error: { stdout: string }) => error);
    expect('stdout' in result ? result.stdout : '').toBe('');
  });

  it('fails the type check on a wrong option, so the check above is real', async () => {
    await writeFile(
      join(project, 'wrong.ts'),
      `import Fastify from 'fastify';\nimport health from '@bulwark/health';\nawait Fastify().register(health, { notAnOption: 1 });\n`,
    );
    await writeFile(
      join(project, 'tsconfig.wrong.json'),
      JSON.stringify({ extends: './tsconfig.json', files: ['wrong.ts'] }),
    );
    const failure = await run(
      join(project, 'node_modules/.bin/tsc'),
      ['-p', 'tsconfig.wrong.json'],
      {
        cwd: project,
      },
    ).then(
      () => undefined,
      (error: { stdout: string }) => error.stdout,
    );
    expect(failure).toMatch(/wrong\.ts.*notAnOption/s);
  });

  it('installs with no engine warning on Node 22+; on Node 20 only for Fastify’s own dependencies', () => {
    const lines = installWarnings.split('\n').filter((line) => line.trim() !== '');
    // npm 11's allowScripts notice names one package: msgpackr-extract, BullMQ's optional native
    // msgpack accelerator (msgpackr falls back to JavaScript without it). Nothing of ours.
    const scripts = lines.filter((line) => line.startsWith('npm warn install-scripts'));
    const withScripts = scripts.flatMap(
      (line) => /^npm warn install-scripts\s+(\S+)@\d/.exec(line)?.[1] ?? [],
    );
    expect(withScripts).toStrictEqual(scripts.length > 0 ? ['msgpackr-extract'] : []);
    const engine = lines.filter((line) => line.startsWith('npm warn EBADENGINE'));
    expect(lines.filter((line) => !scripts.includes(line) && !engine.includes(line))).toStrictEqual(
      [],
    );
    if (nodeMajor >= 22) {
      expect(engine).toStrictEqual([]);
      return;
    }
    // Node 20: Fastify 5's cookie@2 asks for Node >= 22 (see the root README's Node support).
    const packages = [...installWarnings.matchAll(/package: '([^']+)'/g)].map((m) => m[1]);
    expect(packages.filter((name) => name?.startsWith('@bulwark/'))).toStrictEqual([]);
  });

  it('ships LICENSE and the sources its maps point at, so go-to-source resolves', async () => {
    for (const name of plugins) {
      const root = join(project, 'node_modules/@bulwark', name);
      expect(await readFile(join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
      const dist = await readdir(join(root, 'dist'));
      const maps = dist.filter((file) => file.endsWith('.map'));
      expect(maps.length).toBeGreaterThan(2);
      for (const map of maps) {
        const { sources } = JSON.parse(await readFile(join(root, 'dist', map), 'utf8')) as {
          sources: string[];
        };
        for (const source of sources) {
          await expect(access(resolve(root, 'dist', source))).resolves.toBeUndefined();
        }
      }
    }
  });

  it('the OpenTelemetry preload without its optional peers fails with a coded error naming them', async () => {
    const failure = await run(
      process.execPath,
      ['--import', '@bulwark/observability/otel', '--eval', ''],
      {
        cwd: project,
        env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' },
      },
    ).then(
      () => '',
      (error: { stderr: string }) => error.stderr,
    );
    expect(failure).toContain('BULWARK_OBSERVABILITY_OTEL_MISSING');
    expect(failure).toContain('@opentelemetry/sdk-node');
    expect(failure).toContain('@fastify/otel');
    // …and without an endpoint it loads nothing and succeeds.
    await expect(
      run(process.execPath, ['--import', '@bulwark/observability/otel', '--eval', ''], {
        cwd: project,
        env: {
          ...process.env,
          OTEL_EXPORTER_OTLP_ENDPOINT: '',
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
        },
      }),
    ).resolves.toMatchObject({ stderr: '' });
  });

  it('pretty logs without pino-pretty fail with a coded error', async () => {
    const program = `import { loggerOptions } from '@bulwark/observability';
try { loggerOptions({ pretty: true }); console.log('no error'); } catch (error) { console.log(error.code); }`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '--eval', program], {
      cwd: project,
      env: outsideEnv,
    });
    expect(stdout.trim()).toBe('BULWARK_OBSERVABILITY_PRETTY_MISSING');
  });

  it("each README's usage example compiles under strict, exactOptionalPropertyTypes and skipLibCheck false, and runs", async () => {
    const examples = join(project, 'examples');
    await mkdir(examples, { recursive: true });
    for (const name of plugins) {
      await writeFile(
        join(examples, `${name}.ts`),
        runnable(name, await usageExample(workspace, name)),
      );
    }
    await writeFile(
      join(project, 'tsconfig.examples.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          exactOptionalPropertyTypes: true,
          skipLibCheck: false,
          types: ['node'],
          outDir: 'examples-js',
          rootDir: 'examples',
        },
        include: ['examples'],
      }),
    );
    const compiled = await run(
      join(project, 'node_modules/.bin/tsc'),
      ['-p', 'tsconfig.examples.json'],
      { cwd: project },
    ).catch((error: { stdout: string }) => error);
    expect('stdout' in compiled ? compiled.stdout : '').toBe('');
    // With the real Redis and PostgreSQL, and with neither set (each example says what it does
    // then: memory store, queues disabled, no fastify.db).
    const { REDIS_URL: _redis, DATABASE_URL: _database, ...unset } = outsideEnv;
    const connected = {
      ...unset,
      REDIS_URL: inject('redisUrl'),
      DATABASE_URL: inject('databaseUrl'),
    };
    for (const env of [connected, unset]) {
      for (const name of plugins) {
        const { stdout } = await run(process.execPath, [join('examples-js', `${name}.js`)], {
          cwd: project,
          env: { ...env, NODE_ENV: 'production' },
          // The queue example can take up to BullMQ's stalledInterval (30 s) to exit: a worker
          // closed while it starts leaves its stalled-jobs timer running once (BullMQ's, reported).
          timeout: 60_000,
        }).catch((error: { stderr: string; stdout: string; signal: string | null }) => {
          throw new Error(
            `the ${name} example failed (REDIS_URL=${env.REDIS_URL}, signal ${error.signal}): ${error.stderr}${error.stdout.slice(-3000)}`,
          );
        });
        expect(stdout).toContain(`example ${name} listening`);
      }
    }
  }, 240_000);
});
