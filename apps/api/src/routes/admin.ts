import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../database/db.js';
import { NotFoundError } from '../errors.js';
import type { EmailJobs } from '../jobs/email.js';
import { errors, Role, User } from './schemas.js';

/** Tenant administration: admins only, and only within their own tenant. */
export async function adminRoutes(
  instance: FastifyInstance,
  options: { db: Db; jobs: EmailJobs },
): Promise<void> {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { db, jobs } = options;
  app.addHook('onRequest', app.authenticate);
  app.addHook('preHandler', app.requireRole('admin'));
  const security = [{ bearerAuth: [] }];

  app.get(
    '/admin/users',
    {
      schema: {
        tags: ['admin'],
        security,
        response: { 200: Type.Object({ items: Type.Array(User) }), ...errors(401, 403, 429, 503) },
      },
    },
    async (request) => {
      const { rows } = await db.query<{
        id: string;
        email: string;
        role: 'admin' | 'moderator' | 'user';
      }>(
        'SELECT id, email, role FROM users WHERE tenant_id = $1 ORDER BY created_at, id',
        [request.user.tenantId],
        { idempotent: true },
      );
      return { items: rows.map((row) => ({ ...row, tenant: request.user.tenant })) };
    },
  );

  app.patch(
    '/admin/users/:id',
    {
      schema: {
        tags: ['admin'],
        security,
        summary: "Change a user's role within the tenant",
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        body: Type.Object({ role: Role }, { additionalProperties: false }),
        response: { 200: User, ...errors(400, 401, 403, 404, 429, 503) },
      },
    },
    async (request) => {
      const { rows } = await db.query<{
        id: string;
        email: string;
        role: 'admin' | 'moderator' | 'user';
      }>(
        'UPDATE users SET role = $3 WHERE tenant_id = $1 AND id = $2 RETURNING id, email, role',
        [request.user.tenantId, request.params.id, request.body.role],
        { idempotent: true },
      );
      if (!rows[0]) throw new NotFoundError('User');
      return { ...rows[0], tenant: request.user.tenant };
    },
  );

  app.get(
    '/admin/queues',
    {
      schema: {
        tags: ['admin'],
        security,
        summary: 'Job counts per queue, dead-lettered included',
        response: {
          200: Type.Object({
            enabled: Type.Boolean(),
            queues: Type.Array(
              Type.Object({
                name: Type.String(),
                waiting: Type.Integer(),
                active: Type.Integer(),
                delayed: Type.Integer(),
                completed: Type.Integer(),
                failed: Type.Integer(),
                dead: Type.Integer(),
              }),
            ),
          }),
          ...errors(401, 403, 429, 503),
        },
      },
    },
    async () => jobs.stats(),
  );

  app.post(
    '/admin/queues/:name/replay',
    {
      schema: {
        tags: ['admin'],
        security,
        summary: 'Re-enqueue dead-lettered jobs of a queue',
        params: Type.Object({ name: Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}$' }) }),
        body: Type.Optional(
          Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }) }),
        ),
        response: {
          200: Type.Object({ replayed: Type.Integer() }),
          ...errors(400, 401, 403, 404, 429, 503),
        },
      },
    },
    async (request) => ({
      replayed: await jobs.replay(request.params.name, request.body?.limit ?? 100),
    }),
  );
}
