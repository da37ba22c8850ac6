import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Role as RoleName } from '../auth.js';
import type { Db } from '../database/db.js';
import { lifetimeMs, newInvitationToken } from '../domain/invitations.js';
import { LastAdminError, NotFoundError } from '../errors.js';
import type { EmailJobs } from '../jobs/email.js';
import { Email, errors, Role, User, Uuid } from './schemas.js';

type Client = Parameters<Parameters<Db['transaction']>[0]>[0];
const UserParams = Type.Object({ id: Uuid });

/**
 * Locks the tenant row, then reads the member: role changes and removals of one tenant run one
 * at a time, so two admins demoting each other at once cannot both succeed and leave none.
 */
async function lockMember(
  client: Client,
  tenantId: string,
  id: string,
): Promise<{ role: RoleName }> {
  await client.query('SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE', [tenantId]);
  const { rows } = await client.query<{ role: RoleName }>(
    'SELECT role FROM users WHERE tenant_id = $1 AND id = $2',
    [tenantId, id],
  );
  if (!rows[0]) throw new NotFoundError('User');
  return rows[0];
}

async function assertAnotherAdmin(client: Client, tenantId: string): Promise<void> {
  const { rows } = await client.query<{ admins: number }>(
    "SELECT count(*)::int AS admins FROM users WHERE tenant_id = $1 AND role = 'admin'",
    [tenantId],
  );
  if ((rows[0]?.admins ?? 0) <= 1) throw new LastAdminError();
}

/** Tenant administration: admins only, and only within their own tenant. */
export async function adminRoutes(
  instance: FastifyInstance,
  options: { db: Db; jobs: EmailJobs; invitationExpiresIn: string },
): Promise<void> {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { db, jobs } = options;
  const invitationTtlMs = lifetimeMs(options.invitationExpiresIn);
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
        summary: "Change a user's role within the tenant; the last admin cannot be demoted",
        params: UserParams,
        body: Type.Object({ role: Role }, { additionalProperties: false }),
        response: { 200: User, ...errors(400, 401, 403, 404, 409, 429, 503) },
      },
    },
    async (request) => {
      const { tenantId, tenant } = request.user;
      const { id } = request.params;
      const { role } = request.body;
      const user = await db.transaction(async (client) => {
        const current = await lockMember(client, tenantId, id);
        if (current.role === 'admin' && role !== 'admin')
          await assertAnotherAdmin(client, tenantId);
        const { rows } = await client.query<{ id: string; email: string; role: RoleName }>(
          'UPDATE users SET role = $3 WHERE tenant_id = $1 AND id = $2 RETURNING id, email, role',
          [tenantId, id, role],
        );
        return rows[0]!;
      });
      return { ...user, tenant };
    },
  );

  app.post(
    '/admin/invitations',
    {
      schema: {
        tags: ['admin'],
        security,
        summary:
          'Invite someone to the tenant: they register with this token, once, before it expires',
        body: Type.Object(
          { email: Email, role: Type.Optional(Role) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            token: Type.String({ description: 'send it as "invitation" to POST /auth/register' }),
            email: Type.String(),
            role: Role,
            expiresAt: Type.String({ format: 'date-time' }),
          }),
          ...errors(400, 401, 403, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const email = request.body.email.toLowerCase();
      const role = request.body.role ?? 'user';
      const { token, tokenHash } = newInvitationToken();
      const expiresAt = new Date(Date.now() + invitationTtlMs);
      await db.query(
        `INSERT INTO invitations (tenant_id, email, role, token_hash, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [request.user.tenantId, email, role, tokenHash, request.user.sub, expiresAt],
      );
      request.log.info({ invited: email, role }, 'invitation created');
      return reply.code(201).send({ token, email, role, expiresAt: expiresAt.toISOString() });
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
