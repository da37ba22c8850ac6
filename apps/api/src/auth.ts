import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Db } from './database/db.js';
import { ForbiddenError, UnauthorizedError } from './errors.js';

export type Role = 'admin' | 'moderator' | 'user';

/**
 * What an access token carries: who the caller is and which tenant, never what they may do.
 * Role and membership are read from the database on every request, so taking rights away (a
 * demotion, a removal, a logout) holds from the caller's next request.
 */
export interface TokenClaims {
  sub: string;
  tenantId: string;
  tenant: string;
  /** Token id: POST /auth/logout revokes exactly this token. */
  jti: string;
}

/** The authenticated caller: the token's claims plus the role and email the database holds now. */
export interface Principal extends TokenClaims {
  email: string;
  role: Role;
  /** Expiry of the token, seconds since the epoch (set by @fastify/jwt). */
  exp: number;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: TokenClaims;
    user: Principal;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook: 401 unless the request carries a valid, unrevoked token of a current member. */
    authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>;
    /** preHandler factory: 403 unless the authenticated caller has one of the roles. */
    requireRole(...roles: Role[]): (request: FastifyRequest) => Promise<void>;
  }
}

export interface AuthOptions {
  secret: string;
  expiresIn: string;
  issuer: string;
  audience: string;
  db: Db;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function auth(app: FastifyInstance, options: AuthOptions) {
  const { db } = options;
  await app.register(fastifyJwt, {
    secret: options.secret,
    sign: {
      expiresIn: options.expiresIn,
      algorithm: 'HS256',
      iss: options.issuer,
      aud: options.audience,
    },
    verify: {
      algorithms: ['HS256'],
      allowedIss: options.issuer,
      allowedAud: options.audience,
      // fast-jwt checks iss and aud only when present; a token without them is not ours.
      requiredClaims: ['iss', 'aud', 'exp', 'jti', 'sub'],
    },
  });
  app.decorate('authenticate', async (request: FastifyRequest) => {
    try {
      await request.jwtVerify();
    } catch (error) {
      throw new UnauthorizedError({ cause: error });
    }
    const claims = request.user;
    if (
      typeof claims.sub !== 'string' ||
      !UUID.test(claims.sub) ||
      typeof claims.tenantId !== 'string' ||
      !UUID.test(claims.tenantId) ||
      typeof claims.jti !== 'string' ||
      !UUID.test(claims.jti)
    ) {
      throw new UnauthorizedError();
    }
    // Live authorization: one indexed read per request instead of a cache, so a demotion,
    // a removal or a logout holds from the very next request, on every instance.
    const { rows } = await db.query<{ email: string; role: Role; revoked: boolean }>(
      `SELECT u.email, u.role, EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = $3) AS revoked
         FROM users u WHERE u.id = $1 AND u.tenant_id = $2`,
      [claims.sub, claims.tenantId, claims.jti],
      { idempotent: true },
    );
    const member = rows[0];
    if (!member || member.revoked) throw new UnauthorizedError();
    claims.email = member.email;
    claims.role = member.role;
    // @bulwark/observability puts these on the request's completion log line.
    const ids = request as FastifyRequest & { userId?: string | null; tenantId?: string | null };
    ids.userId = claims.sub;
    ids.tenantId = claims.tenantId;
  });
  app.decorate('requireRole', (...roles: Role[]) => async (request: FastifyRequest) => {
    if (!roles.includes(request.user.role)) {
      throw new ForbiddenError(`do this as ${request.user.role}; it needs ${roles.join(' or ')}`);
    }
  });
}

export default fp(auth, { name: 'api-auth' });
