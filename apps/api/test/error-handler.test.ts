import { Writable } from 'node:stream';
import observability from '@bulwark/observability';
import createError from '@fastify/error';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { installErrorHandler } from '../src/error-handler.js';

const INTERNAL = {
  statusCode: 500,
  code: 'BULWARK_API_INTERNAL',
  error: 'Internal Server Error',
  message: 'Something went wrong on our side; try again later',
};

describe('error handler', () => {
  let app: FastifyInstance | undefined;
  let pool: pg.Pool | undefined;
  const lines: Record<string, unknown>[] = [];
  afterEach(async () => {
    await app?.close();
    await pool?.end();
    app = undefined;
    pool = undefined;
    lines.length = 0;
  });

  async function build(): Promise<FastifyInstance> {
    const stream = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const instance = Fastify({ logger: { level: 'info', stream } });
    await instance.register(observability);
    installErrorHandler(instance);
    return instance;
  }

  it('answers a real driver error with a generic 500: no SQLSTATE, no database text; logs it once', async () => {
    // Production or not makes no difference: the handler reads no environment.
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      pool = new pg.Pool({ connectionString: inject('databaseUrl'), max: 1 });
      app = await build();
      app.get('/forced', async () => {
        await pool!.query('SELECT $1::uuid', ['-'.repeat(36)]);
        return {};
      });
      const response = await app.inject('/forced');
      expect(response.statusCode).toBe(500);
      expect(response.json()).toStrictEqual(INTERNAL);
      expect(response.body).not.toMatch(/22P02|invalid input syntax|uuid/i);
      const errors = lines.filter((line) => (line.level as number) >= 50);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ statusCode: 500, err: { code: '22P02' } });
    } finally {
      process.env.NODE_ENV = previous;
    }
  });

  it('hides the message of an internal BULWARK_* 500, passes a BULWARK_* 503 with Retry-After', async () => {
    const Unknown = createError('BULWARK_QUEUE_UNKNOWN', 'queue "%s" is not registered', 500);
    const Unavailable = createError(
      'BULWARK_DB_UNAVAILABLE',
      'The database is unavailable; retry after the number of seconds in Retry-After',
      503,
    );
    app = await build();
    app.get('/internal', async () => {
      throw new Unknown('secret-internal-name');
    });
    app.get('/unavailable', async () => {
      throw Object.assign(new Unavailable(), { headers: { 'retry-after': '3' } });
    });
    app.get('/errno', async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), {
        code: 'ECONNREFUSED',
        errno: -111,
        statusCode: 502,
      });
    });
    app.get('/weird-4xx', async () => {
      throw Object.assign(new Error('relation "users" does not exist'), {
        code: '42P01',
        statusCode: 400,
      });
    });
    const internal = await app.inject('/internal');
    expect(internal.json()).toStrictEqual(INTERNAL);
    const unavailable = await app.inject('/unavailable');
    expect(unavailable.statusCode).toBe(503);
    expect(unavailable.headers['retry-after']).toBe('3');
    expect(unavailable.json()).toMatchObject({ code: 'BULWARK_DB_UNAVAILABLE' });
    const errno = await app.inject('/errno');
    expect(errno.json()).toStrictEqual({ ...INTERNAL, statusCode: 502, error: 'Bad Gateway' });
    const weird = await app.inject('/weird-4xx');
    expect(weird.json()).toStrictEqual({
      statusCode: 400,
      code: 'BULWARK_API_BAD_REQUEST',
      error: 'Bad Request',
      message: 'The request could not be processed; check it against the API document at /docs',
    });
  });
});
