import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ForbiddenError, UnauthorizedError } from './errors.js';

export type Role = 'admin' | 'moderator' | 'user';

/** What an access token carries: enough to authorise without a database read. */
export interface Principal {
  sub: string;
  tenantId: string;
  tenant: string;
  email: string;
  role: Role;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: Principal;
    user: Principal;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler: 401 unless the request carries a valid access token. */
    authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>;
    /** preHandler factory: 403 unless the authenticated caller has one of the roles. */
    requireRole(...roles: Role[]): (request: FastifyRequest) => Promise<void>;
  }
}

async function auth(app: FastifyInstance, options: { secret: string; expiresIn: string }) {
  await app.register(fastifyJwt, {
    secret: options.secret,
    sign: { expiresIn: options.expiresIn, algorithm: 'HS256' },
    verify: { algorithms: ['HS256'] },
  });
  app.decorate('authenticate', async (request: FastifyRequest) => {
    try {
      await request.jwtVerify();
    } catch (error) {
      throw new UnauthorizedError({ cause: error });
    }
    // @bulwark/observability puts these on the request's completion log line.
    const ids = request as FastifyRequest & { userId?: string | null; tenantId?: string | null };
    ids.userId = request.user.sub;
    ids.tenantId = request.user.tenantId;
  });
  app.decorate('requireRole', (...roles: Role[]) => async (request: FastifyRequest) => {
    if (!roles.includes(request.user.role)) {
      throw new ForbiddenError(`do this as ${request.user.role}; it needs ${roles.join(' or ')}`);
    }
  });
}

export default fp(auth, { name: 'api-auth' });
