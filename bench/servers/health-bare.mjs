// The baseline for the health scenario: bare Fastify (as servers/bare.mjs) plus a static
// GET /health/ready, because the runner drives every server of a scenario on one path.
import Fastify from 'fastify';

const app = Fastify();
app.get('/hello', async () => ({ hello: 'world' }));
app.get('/health/ready', async () => ({ status: 'healthy' }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
