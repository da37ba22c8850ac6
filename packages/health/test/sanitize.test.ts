import { describe, expect, it } from 'vitest';
import { describeError, sanitizeDetails, sanitizeText } from '../src/sanitize.js';

describe('error sanitisation', () => {
  it('removes connection strings whole, credentials included', () => {
    const text = sanitizeText(
      'connect to postgres://user:secret@db.internal:5432/app failed; redis://:hunter2@cache:6379/0 too',
    );
    expect(text).toBe('connect to postgres://[redacted] failed; redis://[redacted] too');
    expect(text).not.toContain('secret');
    expect(text).not.toContain('hunter2');
  });

  it('redacts key=value secrets, JSON-ish secrets and bearer tokens', () => {
    expect(sanitizeText('host=db user=app password=s3cr3t dbname=x')).toBe(
      'host=db user=app password=[redacted] dbname=x',
    );
    expect(sanitizeText('{"token": "abc.def", "apiKey":"k1"}')).not.toMatch(/abc\.def|k1/);
    expect(sanitizeText('got 401 for Authorization: Bearer eyJhbGciOi.xyz')).not.toContain('eyJ');
  });

  it('drops stack frames and collapses whitespace', () => {
    const error = new Error('boom');
    expect(describeError(error)).toBe('boom');
    expect(sanitizeText('first line\n    at fn (/app/x.js:1:2)\n    at other')).toBe('first line');
  });

  it('truncates long messages', () => {
    expect(sanitizeText('x'.repeat(1_000))).toHaveLength(300);
  });

  it('describes errors without a message by their code or inner errors', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
      code: 'ECONNREFUSED',
    });
    expect(describeError(new AggregateError([refused], ''))).toBe(
      'connect ECONNREFUSED 127.0.0.1:1',
    );
    expect(describeError(Object.assign(new Error(''), { code: 'ETIMEDOUT' }))).toBe('ETIMEDOUT');
    expect(describeError('postgres://a:b@c')).toBe('postgres://[redacted]');
    expect(describeError({ weird: true })).toBe('check failed');
  });

  it('sanitises the string values of details and redacts secret-looking keys', () => {
    expect(
      sanitizeDetails({
        url: 'postgres://u:p@h/db',
        password: 'x',
        pool: { total: 3, nested: ['redis://:pw@h'] },
        at: new Date(0),
        fn: () => 1,
      }),
    ).toStrictEqual({
      url: 'postgres://[redacted]',
      password: '[redacted]',
      pool: { total: 3, nested: ['redis://[redacted]'] },
      at: '1970-01-01T00:00:00.000Z',
      fn: undefined,
    });
  });
});
