// Fastify + @bulwark/observability as a service would run it: metrics (RED + Node defaults), request
// ids, one completion line per request at info written to a file; tracing off (no preload).
// Same route as servers/bare.mjs.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import observability, { serverOptions } from '@bulwark/observability';
import Fastify from 'fastify';

const file =
  process.env.LOG_FILE || join(tmpdir(), `bulwark-bench-observability-${process.pid}.log`);
const app = Fastify(serverOptions({ level: 'info', pretty: false, file }));
await app.register(observability);
app.get('/hello', async () => ({ hello: 'world' }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });

// The log grows by hundreds of MB per run: remove it unless the caller chose where it goes.
function stop() {
  app.close().finally(() => {
    if (!process.env.LOG_FILE) rmSync(file, { force: true });
    process.exit(0);
  });
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
