import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../database/db.js';
import { LastAdminError, NotFoundError } from '../errors.js';

/** What one erasure removed: counts only, so it can be logged without personal data. */
export interface Erasure {
  notes: number;
  emails: number;
  /** True when the user was the tenant's last member and the tenant went too. */
  tenant: boolean;
}

/**
 * Erases a user (GDPR art. 17): their notes, their outbox rows and their account, in one
 * transaction. The tenant's users are locked first, so two admins erasing each other at once
 * cannot both pass the last-admin rule. The last member takes the empty tenant with them.
 * Logged with ids and counts only: the email and notes are gone and must not live on in logs.
 */
export async function eraseUser(
  db: Db,
  log: FastifyBaseLogger,
  target: { tenantId: string; userId: string },
  by: 'self' | 'admin',
): Promise<Erasure> {
  const erasure = await db.transaction(async (client) => {
    const { rows: members } = await client.query<{ id: string; role: string; email: string }>(
      'SELECT id, role, email FROM users WHERE tenant_id = $1 ORDER BY id FOR UPDATE',
      [target.tenantId],
    );
    const user = members.find((member) => member.id === target.userId);
    if (!user) throw new NotFoundError('User');
    const others = members.filter((member) => member.id !== target.userId);
    if (
      user.role === 'admin' &&
      others.length > 0 &&
      !others.some((member) => member.role === 'admin')
    ) {
      throw new LastAdminError();
    }
    const notes = await client.query('DELETE FROM notes WHERE tenant_id = $1 AND author_id = $2', [
      target.tenantId,
      target.userId,
    ]);
    const emails = await client.query('DELETE FROM outbox WHERE tenant_id = $1 AND user_id = $2', [
      target.tenantId,
      target.userId,
    ]);
    // Invitations addressed to them hold their email; those they issued only their id, which
    // the foreign key sets to NULL. Revoked tokens go with the account (ON DELETE CASCADE).
    await client.query(
      'DELETE FROM invitations WHERE tenant_id = $1 AND lower(email) = lower($2)',
      [target.tenantId, user.email],
    );
    await client.query('DELETE FROM users WHERE tenant_id = $1 AND id = $2', [
      target.tenantId,
      target.userId,
    ]);
    if (others.length === 0) {
      await client.query('DELETE FROM tenants WHERE id = $1', [target.tenantId]);
    }
    return {
      notes: notes.rowCount ?? 0,
      emails: emails.rowCount ?? 0,
      tenant: others.length === 0,
    };
  });
  log.info(
    { event: 'user-erased', by, tenantId: target.tenantId, userId: target.userId, ...erasure },
    'user erased',
  );
  return erasure;
}
