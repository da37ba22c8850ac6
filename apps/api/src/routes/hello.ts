import type { FastifyInstance } from 'fastify';

/** The benchmark's reference route: the same shape as bare Fastify's `GET /hello`. */
export async function helloRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/hello',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            properties: { hello: { type: 'string' } },
            required: ['hello'],
          },
        },
      },
    },
    async () => ({ hello: 'world' }),
  );
}
