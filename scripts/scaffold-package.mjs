// One-off generator used to lay out the five plugin skeletons with identical shape.
// Kept so a sixth package starts the same way: node scripts/scaffold-package.mjs <dir> <Summary>
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, ...summaryWords] = process.argv.slice(2);
if (!dir || summaryWords.length === 0) {
  console.error('usage: node scripts/scaffold-package.mjs <dir> <one-line summary>');
  process.exit(2);
}
const summary = summaryWords.join(' ');
const root = join('packages', dir);
if (existsSync(join(root, 'package.json'))) {
  console.error(`${root} already exists`);
  process.exit(2);
}
const camel = `bulwark${dir[0].toUpperCase()}${dir.slice(1)}`;
const upper = dir.toUpperCase();
const Title = `${dir[0].toUpperCase()}${dir.slice(1)}`;
const name = `@bulwark/${dir}`;
const files = {
  'package.json': `${JSON.stringify(
    {
      name,
      version: '0.0.0',
      description: summary,
      license: 'MIT',
      type: 'module',
      exports: {
        '.': { types: './dist/index.d.ts', default: './dist/index.js' },
        './package.json': './package.json',
      },
      types: './dist/index.d.ts',
      files: ['dist', 'src', 'LICENSE'],
      sideEffects: false,
      engines: { node: '>=20.19' },
      keywords: ['fastify', 'fastify-plugin', 'bulwark'],
      repository: {
        type: 'git',
        url: 'git+https://github.com/bulwark-dev/bulwark.git',
        directory: root,
      },
      publishConfig: { access: 'public' },
      scripts: {
        build: 'tsc -p tsconfig.build.json',
        typecheck: 'tsc --noEmit',
        'lint:package': 'publint --strict && attw --pack . --profile esm-only',
        test: 'vitest run',
      },
      dependencies: {
        '@fastify/error': '^4.2.0',
        '@sinclair/typebox': '^0.34.41',
        'fastify-plugin': '^5.0.1',
      },
      peerDependencies: { fastify: '^5.0.0' },
      devDependencies: { '@bulwark/testing': 'workspace:*', fastify: '^5.6.2' },
    },
    null,
    2,
  )}\n`,
  'tsconfig.json': `{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "rootDir": ".", "noEmit": true },
  "include": ["src", "test", "vitest.config.ts"]
}
`,
  'tsconfig.build.json': `{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "rootDir": "src", "outDir": "dist" },
  "include": ["src"]
}
`,
  'vitest.config.ts': `import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: '${dir}',
    include: ['test/**/*.test.ts'],
    globalSetup: ['@bulwark/testing/global-setup'],
    typecheck: { enabled: true, include: ['test/types/**/*.test-d.ts'] },
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
`,
  'src/index.ts': `import plugin, { ${camel} } from './plugin.js';

export { ${camel} };
export type { ${Title}Options } from './options.js';
export * as errors from './errors.js';
export default plugin;
`,
  'src/errors.ts': `import createError from '@fastify/error';

/** An option given to the plugin is missing, of the wrong type, or out of range. */
export const InvalidOptionError = createError<[string]>(
  'BULWARK_${upper}_INVALID_OPTION',
  '${name}: %s',
  500,
  TypeError,
);

/** The plugin was registered twice in the same encapsulation scope. */
export const AlreadyRegisteredError = createError(
  'BULWARK_${upper}_ALREADY_REGISTERED',
  '${name} is already registered in this scope; register it once, at the root of the app',
  500,
);
`,
  'src/options.ts': `import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { InvalidOptionError } from './errors.js';

/** Options schema for ${name}. Every key carries its default and description. */
export const ${Title}OptionsSchema = Type.Object({}, { additionalProperties: false });

/** Options accepted by \`fastify.register(${dir}, options)\`. */
export type ${Title}Options = Partial<Static<typeof ${Title}OptionsSchema>>;
/** Options after defaults are applied. */
export type Resolved${Title}Options = Static<typeof ${Title}OptionsSchema>;

/** Validates options once, at registration; throws naming the option, the value and the rule. */
export function resolveOptions(input: ${Title}Options | undefined): Resolved${Title}Options {
  const value = Value.Default(${Title}OptionsSchema, structuredClone(input ?? {}));
  const first = Value.Errors(${Title}OptionsSchema, value).First();
  if (first) {
    const path = first.path.replaceAll('/', '.').replace(/^\\./, '') || '(root)';
    throw new InvalidOptionError(
      \`option \${path} \${first.message.toLowerCase()}, got \${JSON.stringify(first.value)}\`,
    );
  }
  return value as Resolved${Title}Options;
}
`,
  'src/plugin.ts': `import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AlreadyRegisteredError } from './errors.js';
import { type ${Title}Options, resolveOptions } from './options.js';

const registered = Symbol('bulwark.${dir}.registered');

async function ${camel}(fastify: FastifyInstance, options: ${Title}Options): Promise<void> {
  if ((fastify as unknown as Record<symbol, unknown>)[registered]) {
    throw new AlreadyRegisteredError();
  }
  resolveOptions(options);
  fastify.decorate(registered, true);
}

export { ${camel} };
export default fp(${camel}, { name: '${name}', fastify: '5.x' });
`,
  'test/plugin.test.ts': `import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import ${dir}, { errors, ${camel} } from '../src/index.js';

describe('${name} registration', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('registers with no options and declares its name and Fastify range', async () => {
    app = Fastify();
    await app.register(${dir});
    await app.ready();
    expect(${dir}).toBe(${dir});
    const meta = (${dir} as unknown as Record<symbol, { name: string; fastify: string }>)[
      Symbol.for('plugin-meta')
    ];
    expect(meta).toMatchObject({ name: '${name}', fastify: '5.x' });
    expect(typeof ${camel}).toBe('function');
    expect(app.hasPlugin('${name}')).toBe(true);
  });

  it('rejects an unknown option, naming it', async () => {
    app = Fastify();
    await expect(
      app.register(${dir}, { nope: true } as unknown as Record<string, never>),
    ).rejects.toThrow(errors.InvalidOptionError);
  });

  it('fails with ${'BULWARK_' + upper}_ALREADY_REGISTERED on a second registration', async () => {
    app = Fastify();
    app.register(${dir});
    app.register(${dir});
    await expect(app.ready()).rejects.toMatchObject({ code: 'BULWARK_${upper}_ALREADY_REGISTERED' });
  });
});
`,
  'README.md': `# ${name}

${summary}

## Install

\`\`\`sh
npm install ${name} fastify
\`\`\`

## Compatibility

Node.js >= 20.19, Fastify 5.

## Usage

\`\`\`ts
import Fastify from 'fastify';
import ${dir} from '${name}';

const app = Fastify();
await app.register(${dir});
app.get('/hello', async () => ({ hello: 'world' }));
await app.listen({ port: 3000 });
\`\`\`

## Options

| option | type | default | description |
| --- | --- | --- | --- |
| _(none yet)_ | | | |

## Errors

| code | status | when | how to fix |
| --- | --- | --- | --- |
| \`BULWARK_${upper}_INVALID_OPTION\` | 500 | an option is unknown, of the wrong type or out of range | correct the option the message names |
| \`BULWARK_${upper}_ALREADY_REGISTERED\` | 500 | the plugin is registered twice in one scope | register it once, at the root |

## License

MIT
`,
};
for (const [path, text] of Object.entries(files)) {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
}
// npm ships a package's own LICENSE file, not the repository's.
copyFileSync('LICENSE', join(root, 'LICENSE'));
console.log(`scaffolded ${root}`);
