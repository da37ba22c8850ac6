import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../database/db.js';
import { ForbiddenError, InvalidCursorError, NotFoundError } from '../errors.js';
import { errors, Uuid } from './schemas.js';

const Note = Type.Object({
  id: Type.String({ format: 'uuid' }),
  title: Type.String(),
  body: Type.String(),
  authorId: Type.String({ format: 'uuid' }),
  createdAt: Type.String({ format: 'date-time' }),
});
const NoteParams = Type.Object({ id: Uuid });

interface NoteRow {
  id: string;
  title: string;
  body: string;
  author_id: string;
  created_at: Date;
}
/** A listed row also carries its exact sort key: created_at to the microsecond, in UTC. */
interface PageRow extends NoteRow {
  sort_key: string;
}
const toNote = (row: NoteRow) => ({
  id: row.id,
  title: row.title,
  body: row.body,
  authorId: row.author_id,
  createdAt: row.created_at.toISOString(),
});

// Keyset cursor: the (created_at, id) of the last item, opaque to clients. created_at goes in at
// PostgreSQL's full (microsecond) precision: a JavaScript Date keeps milliseconds, and a cursor
// rounded to them skips the notes created later in that same millisecond.
function encodeCursor(row: PageRow): string {
  return Buffer.from(JSON.stringify([row.sort_key, row.id])).toString('base64url');
}
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const CURSOR_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Fully parsed and range-checked before it reaches SQL: exactly what encodeCursor writes (a UTC
// instant with microseconds whose millisecond part round-trips through Date, years 1–9999 as
// PostgreSQL takes them, a uuid).
function decodeCursor(cursor: string): [string, string] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw new InvalidCursorError();
  const [createdAt, id] = parsed as unknown[];
  if (typeof createdAt !== 'string' || !CURSOR_TIME.test(createdAt)) throw new InvalidCursorError();
  const milliseconds = `${createdAt.slice(0, 23)}Z`;
  const time = new Date(milliseconds);
  if (Number.isNaN(time.getTime()) || time.toISOString() !== milliseconds)
    throw new InvalidCursorError();
  if (createdAt.startsWith('0000')) throw new InvalidCursorError();
  if (typeof id !== 'string' || !CURSOR_ID.test(id)) throw new InvalidCursorError();
  return [createdAt, id];
}

/** Notes: every statement is scoped by the caller's tenant id from the token, never from input. */
export async function notesRoutes(instance: FastifyInstance, options: { db: Db }): Promise<void> {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = options;
  app.addHook('onRequest', app.authenticate);

  app.post(
    '/notes',
    {
      schema: {
        tags: ['notes'],
        security: [{ bearerAuth: [] }],
        body: Type.Object(
          {
            title: Type.String({ minLength: 1, maxLength: 200 }),
            body: Type.String({ maxLength: 10_000 }),
          },
          { additionalProperties: false },
        ),
        response: { 201: Note, ...errors(400, 401, 429, 503) },
      },
    },
    async (request, reply) => {
      const { rows } = await db.query<NoteRow>(
        `INSERT INTO notes (tenant_id, author_id, title, body) VALUES ($1, $2, $3, $4)
         RETURNING id, title, body, author_id, created_at`,
        [request.user.tenantId, request.user.sub, request.body.title, request.body.body],
      );
      return reply.code(201).send(toNote(rows[0]!));
    },
  );

  app.get(
    '/notes',
    {
      schema: {
        tags: ['notes'],
        security: [{ bearerAuth: [] }],
        querystring: Type.Object(
          {
            limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            items: Type.Array(Note),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errors(400, 401, 429, 503),
        },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const params: unknown[] = [request.user.tenantId, limit + 1];
      let after = '';
      if (cursor) {
        params.push(...decodeCursor(cursor));
        after = 'AND (created_at, id) < ($3::timestamptz, $4::uuid)';
      }
      const { rows } = await db.query<PageRow>(
        `SELECT id, title, body, author_id, created_at,
                to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS sort_key
           FROM notes
          WHERE tenant_id = $1 ${after}
          ORDER BY created_at DESC, id DESC LIMIT $2`,
        params,
        { idempotent: true },
      );
      const page = rows.slice(0, limit);
      return {
        items: page.map(toNote),
        nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!) : null,
      };
    },
  );

  app.get(
    '/notes/:id',
    {
      schema: {
        tags: ['notes'],
        security: [{ bearerAuth: [] }],
        params: NoteParams,
        response: { 200: Note, ...errors(400, 401, 404, 429, 503) },
      },
    },
    async (request) => {
      const { rows } = await db.query<NoteRow>(
        'SELECT id, title, body, author_id, created_at FROM notes WHERE tenant_id = $1 AND id = $2',
        [request.user.tenantId, request.params.id],
        { idempotent: true },
      );
      if (!rows[0]) throw new NotFoundError('Note');
      return toNote(rows[0]);
    },
  );

  app.delete(
    '/notes/:id',
    {
      schema: {
        tags: ['notes'],
        security: [{ bearerAuth: [] }],
        params: NoteParams,
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 429, 503) },
      },
    },
    async (request, reply) => {
      const { tenantId, sub, role } = request.user;
      const { rows } = await db.query<{ author_id: string }>(
        'SELECT author_id FROM notes WHERE tenant_id = $1 AND id = $2',
        [tenantId, request.params.id],
        { idempotent: true },
      );
      if (!rows[0]) throw new NotFoundError('Note');
      if (rows[0].author_id !== sub && role === 'user') {
        throw new ForbiddenError(
          "delete another user's note; only its author, a moderator or an admin can",
        );
      }
      await db.query(
        'DELETE FROM notes WHERE tenant_id = $1 AND id = $2',
        [tenantId, request.params.id],
        {
          idempotent: true,
        },
      );
      return reply.code(204).send(null);
    },
  );
}
