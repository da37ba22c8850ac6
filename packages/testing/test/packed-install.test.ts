import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const workspace = fileURLToPath(new URL('../../..', import.meta.url));
const plugins = ['observability', 'health', 'limits', 'resilience', 'queue'] as const;
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
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        ...files,
        'fastify@^5',
        'typescript@5.9.3',
        '@types/node@^20',
      ],
      { cwd: project, maxBuffer: 16 * 1024 * 1024 },
    );
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
});
