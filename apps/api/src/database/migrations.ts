/**
 * The schema, in order. A migration is never edited once released; add a new one instead.
 * Kept as code (not .sql files) so `tsc` ships them in dist/ with nothing to copy.
 */
export interface Migration {
  readonly id: number;
  readonly name: string;
  readonly sql: string;
}

export const migrations: readonly Migration[] = [
  {
    id: 1,
    name: 'create-tenants-and-users',
    sql: `
      CREATE TABLE tenants (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        email text NOT NULL,
        password_hash text NOT NULL,
        role text NOT NULL CHECK (role IN ('admin', 'moderator', 'user')),
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_id, email)
      );`,
  },
  {
    id: 2,
    name: 'create-notes',
    sql: `
      CREATE TABLE notes (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        author_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
        body text NOT NULL CHECK (char_length(body) <= 10000),
        created_at timestamptz NOT NULL DEFAULT now()
      );
      -- Keyset pagination reads a tenant's notes newest first, id breaking ties.
      CREATE INDEX notes_tenant_page ON notes (tenant_id, created_at DESC, id DESC);`,
  },
  {
    id: 3,
    name: 'create-outbox',
    sql: `
      CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        kind text NOT NULL,
        payload jsonb NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent')),
        enqueued_at timestamptz,
        sent_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      -- The relay scans rows not yet handed to the queue.
      CREATE INDEX outbox_unrelayed ON outbox (id) WHERE enqueued_at IS NULL;`,
  },
  {
    id: 4,
    name: 'index-pending-outbox-for-the-sweeper',
    sql: `
      -- The sweeper scans rows handed to the queue long ago and still not sent.
      CREATE INDEX outbox_pending_enqueued ON outbox (enqueued_at) WHERE status = 'pending';`,
  },
  {
    id: 5,
    name: 'create-invitations-and-token-revocation',
    sql: `
      -- Joining an existing tenant needs an invitation; only a hash of its token is stored.
      CREATE TABLE invitations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        email text NOT NULL,
        role text NOT NULL CHECK (role IN ('admin', 'moderator', 'user')),
        token_hash text NOT NULL UNIQUE,
        created_by uuid REFERENCES users(id) ON DELETE SET NULL,
        expires_at timestamptz NOT NULL,
        consumed_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      -- Access tokens revoked by POST /auth/logout, kept until they would have expired anyway.
      CREATE TABLE revoked_tokens (
        jti uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);`,
  },
];
