import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Principal, Role } from '../auth.js';
import type { Db } from '../database/db.js';
import { decoyHash, hashPassword, verifyPassword } from '../domain/passwords.js';
import { EmailTakenError, InvalidCredentialsError } from '../errors.js';
import { Email, errors, TenantSlug, User } from './schemas.js';

const Credentials = Type.Object(
  {
    tenant: TenantSlug,
    email: Email,
    password: Type.String({ minLength: 12, maxLength: 256, description: 'at least 12 characters' }),
  },
  { additionalProperties: false },
);

const UNIQUE_VIOLATION = '23505';

export async function authRoutes(
  instance: FastifyInstance,
  options: { db: Db; expiresIn: string },
): Promise<void> {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { db, expiresIn } = options;

  app.post(
    '/auth/register',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an account; the first account of a tenant becomes its admin',
        body: Credentials,
        response: { 201: User, ...errors(400, 409, 429, 503) },
      },
    },
    async (request, reply) => {
      const { tenant, password } = request.body;
      const email = request.body.email.toLowerCase();
      const passwordHash = await hashPassword(password);
      const user = await db.transaction(async (client) => {
        await client.query('INSERT INTO tenants (slug) VALUES ($1) ON CONFLICT (slug) DO NOTHING', [
          tenant,
        ]);
        // The row lock serialises registrations within a tenant, so exactly one becomes admin.
        const tenantRow = await client.query<{ id: string }>(
          'SELECT id FROM tenants WHERE slug = $1 FOR UPDATE',
          [tenant],
        );
        const tenantId = tenantRow.rows[0]!.id;
        const existing = await client.query('SELECT 1 FROM users WHERE tenant_id = $1 LIMIT 1', [
          tenantId,
        ]);
        const role: Role = existing.rowCount === 0 ? 'admin' : 'user';
        let inserted: { id: string };
        try {
          const result = await client.query<{ id: string }>(
            'INSERT INTO users (tenant_id, email, password_hash, role) VALUES ($1, $2, $3, $4) RETURNING id',
            [tenantId, email, passwordHash, role],
          );
          inserted = result.rows[0]!;
        } catch (error) {
          if ((error as { code?: string }).code === UNIQUE_VIOLATION) throw new EmailTakenError();
          throw error;
        }
        // Transactional outbox: the welcome email exists if and only if the account does.
        await client.query(
          `INSERT INTO outbox (tenant_id, user_id, kind, payload) VALUES ($1, $2, 'welcome-email', $3)`,
          [tenantId, inserted.id, JSON.stringify({ to: email, tenant })],
        );
        return { id: inserted.id, email, tenant, role };
      });
      request.log.info({ userId: user.id, tenant, role: user.role }, 'account registered');
      return reply.code(201).send(user);
    },
  );

  app.post(
    '/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Exchange credentials for a short-lived access token',
        body: Credentials,
        response: {
          200: Type.Object({
            token: Type.String(),
            expiresIn: Type.String({ description: 'token lifetime, e.g. 15m' }),
          }),
          ...errors(400, 401, 429, 503),
        },
      },
      config: {
        // Read by @bulwark/limits: the strict auth tier, keyed by IP + account.
        limits: { auth: true },
      },
    },
    async (request) => {
      const { tenant, password } = request.body;
      const email = request.body.email.toLowerCase();
      const { rows } = await db.query<{
        id: string;
        tenant_id: string;
        password_hash: string;
        role: Role;
      }>(
        `SELECT u.id, u.tenant_id, u.password_hash, u.role
           FROM users u JOIN tenants t ON t.id = u.tenant_id
          WHERE t.slug = $1 AND u.email = $2`,
        [tenant, email],
        { idempotent: true },
      );
      const user = rows[0];
      // Verify against a decoy when the account is missing: same work, same answer, same time.
      const valid = await verifyPassword(password, user?.password_hash ?? decoyHash);
      if (!user || !valid) throw new InvalidCredentialsError();
      const principal: Principal = {
        sub: user.id,
        tenantId: user.tenant_id,
        tenant,
        email,
        role: user.role,
      };
      return { token: await app.jwt.sign(principal), expiresIn };
    },
  );
}
