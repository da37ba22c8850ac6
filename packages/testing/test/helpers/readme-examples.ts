import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What each README's usage example leaves to the reader (`authenticate`, `sendMail`): stand-ins
 * so the example compiles and runs as written. Nothing else of the example is changed, except
 * its final `listen` (see {@link runnable}).
 */
const preludes: Record<string, string> = {
  observability:
    'async function authenticate(_request: unknown) {\n  return { id: "u-1", tenantId: "t-1" };\n}\n',
  queue:
    'async function sendMail(_data: { to: string; subject: string }, _options: { signal: AbortSignal }) {}\n',
};

/** The first ```ts block of packages/<name>/README.md: its usage example. */
export async function usageExample(workspace: string, name: string): Promise<string> {
  const readme = await readFile(join(workspace, 'packages', name, 'README.md'), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error(`packages/${name}/README.md has no ts example`);
  return block;
}

/**
 * The example as a program that starts and stops: its `await app.listen({...})` becomes a listen
 * on a free loopback port, a line on stdout and `app.close()`. Imports stay first.
 */
export function runnable(name: string, example: string): string {
  const lines = example.split('\n');
  const firstCode = lines.findIndex((line) => line.trim() !== '' && !line.startsWith('import '));
  const listen = /await app\.listen\(\{[^}]*\}\);/;
  if (!listen.test(example)) throw new Error(`the ${name} example does not end with app.listen`);
  const body = lines
    .slice(firstCode)
    .join('\n')
    .replace(
      listen,
      `await app.listen({ port: 0, host: '127.0.0.1' });\nconsole.log('example ${name} listening');\nawait app.close();`,
    );
  return `${lines.slice(0, firstCode).join('\n')}\n${preludes[name] ?? ''}${body}`;
}
