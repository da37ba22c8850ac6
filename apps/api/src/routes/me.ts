import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../database/db.js';
import { errors, User } from './schemas.js';

export async function meRoutes(instance: FastifyInstance, options: { db: Db }): Promise<void> {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = options;
  app.addHook('onRequest', app.authenticate);

  app.get(
    '/me',
    {
      schema: {
        tags: ['me'],
        security: [{ bearerAuth: [] }],
        response: { 200: User, ...errors(401, 429) },
      },
    },
    async (request) => {
      const { sub, email, tenant, role } = request.user;
      return { id: sub, email, tenant, role };
    },
  );

  app.get(
    '/me/emails',
    {
      schema: {
        tags: ['me'],
        security: [{ bearerAuth: [] }],
        summary: "The caller's outbox: emails the service sends them, and whether they went out",
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                id: Type.String(),
                kind: Type.String(),
                status: Type.Union([Type.Literal('pending'), Type.Literal('sent')]),
                createdAt: Type.String({ format: 'date-time' }),
                sentAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
              }),
            ),
          }),
          ...errors(401, 429, 503),
        },
      },
    },
    async (request) => {
      const { rows } = await db.query<{
        id: string;
        kind: string;
        status: 'pending' | 'sent';
        created_at: Date;
        sent_at: Date | null;
      }>(
        `SELECT id::text, kind, status, created_at, sent_at FROM outbox
          WHERE tenant_id = $1 AND user_id = $2 ORDER BY id`,
        [request.user.tenantId, request.user.sub],
        { idempotent: true },
      );
      return {
        items: rows.map((row) => ({
          id: row.id,
          kind: row.kind,
          status: row.status,
          createdAt: row.created_at.toISOString(),
          sentAt: row.sent_at?.toISOString() ?? null,
        })),
      };
    },
  );
}
