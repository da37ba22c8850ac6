import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/**
 * Resolves once the child's stdout and stderr have ended. A process's 'exit' event can come
 * before the last of its output has been read from the pipes: a test reading the log right
 * after the exit would miss its last lines.
 */
export async function outputEnded(child: ChildProcess): Promise<void> {
  await Promise.all(
    [child.stdout, child.stderr].map((stream) =>
      stream && !stream.readableEnded ? once(stream, 'end') : undefined,
    ),
  );
}
