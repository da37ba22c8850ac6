import { randomUUID } from 'node:crypto';
import { recordDependencyWait } from '@bulwark/limits';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Role, TokenClaims } from '../auth.js';
import type { Db } from '../database/db.js';
import { invitationTokenHash } from '../domain/invitations.js';
import type { Passwords } from '../domain/passwords.js';
import {
  EmailTakenError,
  InvalidCredentialsError,
  InvitationInvalidError,
  InvitationRequiredError,
} from '../errors.js';
import { Email, errors, Password, TenantSlug, User } from './schemas.js';

const Credentials = Type.Object(
  { tenant: TenantSlug, email: Email, password: Password },
  { additionalProperties: false },
);
const Registration = Type.Object(
  {
    tenant: TenantSlug,
    email: Email,
    password: Password,
    invitation: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_-]{1,100}$',
        description:
          'the token of POST /api/v1/admin/invitations; needed to join an existing tenant',
      }),
    ),
  },
  { additionalProperties: false },
);

const UNIQUE_VIOLATION = '23505';

/**
 * Awaits password work and tells @bulwark/limits' shedder that the time was spent on a budgeted
 * dependency (the hashing bulkhead and its low-priority threads), not on the event loop: a
 * registration that waits a second for its hash is not a sign the server is overloaded.
 */
async function hashingWait<T>(request: FastifyRequest, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    recordDependencyWait(request, performance.now() - started);
  }
}
// Read by @bulwark/limits: the strict auth tier, keyed by IP + account, for every route that
// spends a password hash (registration and login share it).
const loginGrade = { limits: { auth: true } };

export async function authRoutes(
  instance: FastifyInstance,
  options: { db: Db; expiresIn: string; passwords: Passwords },
): Promise<void> {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { db, expiresIn, passwords } = options;

  app.post(
    '/auth/register',
    {
      schema: {
        tags: ['auth'],
        summary:
          'Create an account: a new tenant name creates the tenant with you as its admin; joining an existing tenant needs an invitation',
        body: Registration,
        response: { 201: User, ...errors(400, 403, 409, 429, 503) },
      },
      config: loginGrade,
    },
    async (request, reply) => {
      const { tenant, password, invitation } = request.body;
      const email = request.body.email.toLowerCase();
      // Hashed before the transaction: no pooled connection waits on the hashing budget.
      const passwordHash = await hashingWait(request, () => passwords.hash(password));
      const user = await db.transaction(async (client) => {
        // Concurrent registrations of a new name: the second waits for the first to commit,
        // then sees the tenant as existing, so exactly one becomes its admin.
        const created = await client.query<{ id: string }>(
          'INSERT INTO tenants (slug) VALUES ($1) ON CONFLICT (slug) DO NOTHING RETURNING id',
          [tenant],
        );
        let tenantId: string;
        let role: Role;
        if (created.rows[0]) {
          // An invitation names an existing tenant; rolling back leaves no trace of this one.
          if (invitation !== undefined) throw new InvitationInvalidError();
          tenantId = created.rows[0].id;
          role = 'admin';
        } else {
          if (invitation === undefined) throw new InvitationRequiredError();
          // Consumed once: the row lock of the UPDATE makes a concurrent second use find nothing.
          const consumed = await client.query<{ tenant_id: string; role: Role }>(
            `UPDATE invitations i SET consumed_at = now()
               FROM tenants t
              WHERE t.slug = $1 AND i.tenant_id = t.id AND i.token_hash = $2 AND i.email = $3
                AND i.consumed_at IS NULL AND i.expires_at > now()
              RETURNING i.tenant_id, i.role`,
            [tenant, invitationTokenHash(invitation), email],
          );
          if (!consumed.rows[0]) throw new InvitationInvalidError();
          tenantId = consumed.rows[0].tenant_id;
          role = consumed.rows[0].role;
        }
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
      config: loginGrade,
    },
    async (request) => {
      const { tenant, password } = request.body;
      const email = request.body.email.toLowerCase();
      const { rows } = await db.query<{ id: string; tenant_id: string; password_hash: string }>(
        `SELECT u.id, u.tenant_id, u.password_hash
           FROM users u JOIN tenants t ON t.id = u.tenant_id
          WHERE t.slug = $1 AND u.email = $2`,
        [tenant, email],
        { idempotent: true },
      );
      const user = rows[0];
      // Verify against a decoy when the account is missing: same work, same answer, same time.
      const valid = await hashingWait(request, () =>
        user ? passwords.verify(password, user.password_hash) : passwords.verifyDecoy(password),
      );
      if (!user || !valid) throw new InvalidCredentialsError();
      const claims: TokenClaims = {
        sub: user.id,
        tenantId: user.tenant_id,
        tenant,
        jti: randomUUID(),
      };
      return { token: await app.jwt.sign(claims), expiresIn };
    },
  );

  app.post(
    '/auth/logout',
    {
      onRequest: app.authenticate,
      schema: {
        tags: ['auth'],
        security: [{ bearerAuth: [] }],
        summary: 'Revoke the access token of this request: from now on it answers 401',
        response: { 204: Type.Null(), ...errors(401, 429, 503) },
      },
    },
    async (request, reply) => {
      const { jti, sub, exp } = request.user;
      await db.query(
        `INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES ($1, $2, to_timestamp($3))
         ON CONFLICT (jti) DO NOTHING`,
        [jti, sub, exp],
        { idempotent: true },
      );
      // A revoked token past its expiry is refused anyway: forget it (index on expires_at).
      await db.query('DELETE FROM revoked_tokens WHERE expires_at < now()', [], {
        idempotent: true,
      });
      return reply.code(204).send(null);
    },
  );
}
