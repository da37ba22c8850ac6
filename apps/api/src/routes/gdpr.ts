import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../database/db.js';
import { eraseUser } from '../domain/erasure.js';
import { NotFoundError } from '../errors.js';
import { errors, Role, Uuid } from './schemas.js';

const Export = Type.Object({
  exportedAt: Type.String({ format: 'date-time' }),
  account: Type.Object({
    id: Type.String({ format: 'uuid' }),
    email: Type.String(),
    tenant: Type.String(),
    role: Role,
    createdAt: Type.String({ format: 'date-time' }),
  }),
  notes: Type.Array(
    Type.Object({
      id: Type.String({ format: 'uuid' }),
      title: Type.String(),
      body: Type.String(),
      createdAt: Type.String({ format: 'date-time' }),
    }),
  ),
  emails: Type.Array(
    Type.Object({
      id: Type.String(),
      kind: Type.String(),
      status: Type.String(),
      payload: Type.Unknown(),
      createdAt: Type.String({ format: 'date-time' }),
      sentAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    }),
  ),
});

/** GDPR: a user's data export (art. 15/20) and erasure (art. 17), and an admin's erasure. */
export async function gdprRoutes(instance: FastifyInstance, options: { db: Db }): Promise<void> {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = options;
  app.addHook('onRequest', app.authenticate);
  const security = [{ bearerAuth: [] }];

  app.get(
    '/me/export',
    {
      schema: {
        tags: ['me'],
        security,
        summary: 'Everything the service keeps about the caller, as a downloadable JSON file',
        response: { 200: Export, ...errors(401, 404, 429, 503) },
      },
    },
    async (request, reply) => {
      const { tenantId, sub, tenant } = request.user;
      // One snapshot: account, notes and emails as of the same instant.
      const data = await db.transaction(async (client) => {
        await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const account = await client.query<{
          id: string;
          email: string;
          role: 'admin' | 'moderator' | 'user';
          created_at: Date;
        }>('SELECT id, email, role, created_at FROM users WHERE tenant_id = $1 AND id = $2', [
          tenantId,
          sub,
        ]);
        const notes = await client.query<{
          id: string;
          title: string;
          body: string;
          created_at: Date;
        }>(
          `SELECT id, title, body, created_at FROM notes WHERE tenant_id = $1 AND author_id = $2
            ORDER BY created_at, id`,
          [tenantId, sub],
        );
        const emails = await client.query<{
          id: string;
          kind: string;
          status: string;
          payload: unknown;
          created_at: Date;
          sent_at: Date | null;
        }>(
          `SELECT id::text, kind, status, payload, created_at, sent_at FROM outbox
            WHERE tenant_id = $1 AND user_id = $2 ORDER BY id`,
          [tenantId, sub],
        );
        return { account: account.rows[0], notes: notes.rows, emails: emails.rows };
      });
      if (!data.account) throw new NotFoundError('Account');
      reply.header('content-disposition', `attachment; filename="bulwark-export-${sub}.json"`);
      return {
        exportedAt: new Date().toISOString(),
        account: {
          id: data.account.id,
          email: data.account.email,
          tenant,
          role: data.account.role,
          createdAt: data.account.created_at.toISOString(),
        },
        notes: data.notes.map((note) => ({
          id: note.id,
          title: note.title,
          body: note.body,
          createdAt: note.created_at.toISOString(),
        })),
        emails: data.emails.map((email) => ({
          id: email.id,
          kind: email.kind,
          status: email.status,
          payload: email.payload,
          createdAt: email.created_at.toISOString(),
          sentAt: email.sent_at?.toISOString() ?? null,
        })),
      };
    },
  );

  app.delete(
    '/me',
    {
      schema: {
        tags: ['me'],
        security,
        summary: "Erase the caller's account, notes and emails",
        response: { 204: Type.Null(), ...errors(401, 404, 409, 429, 503) },
      },
    },
    async (request, reply) => {
      await eraseUser(
        db,
        request.log,
        { tenantId: request.user.tenantId, userId: request.user.sub },
        'self',
      );
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/admin/users/:id',
    {
      preHandler: app.requireRole('admin'),
      schema: {
        tags: ['admin'],
        security,
        summary:
          'Erase a member of the tenant: account, notes and emails; their tokens answer 401 from the next request',
        params: Type.Object({ id: Uuid }),
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 409, 429, 503) },
      },
    },
    async (request, reply) => {
      await eraseUser(
        db,
        request.log,
        { tenantId: request.user.tenantId, userId: request.params.id },
        'admin',
      );
      return reply.code(204).send(null);
    },
  );
}
