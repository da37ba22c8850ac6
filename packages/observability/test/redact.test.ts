import { describe, expect, it } from 'vitest';
import { trendBytesPerMinute } from '../src/memory-watch.js';
import { CENSOR, KeyMatcher, redactDeep } from '../src/redact.js';
import { isSafeRequestId } from '../src/request-id.js';

describe('redactDeep', () => {
  const matcher = new KeyMatcher(['ssn']);

  it('matches credential names whatever their case and separators, plus password/secret/token/apikey shapes', () => {
    for (const key of [
      'Authorization',
      'set-cookie',
      'Set_Cookie',
      'password',
      'dbPassword',
      'clientSecretValue',
      'githubToken',
      'refresh_token',
      'stripe_api_key',
      'X-Api-Key',
      'SSN',
    ]) {
      expect(matcher.matches(key), key).toBe(true);
    }
    for (const key of ['name', 'tokens', 'tokenCount', 'email', 'user', 'passage']) {
      expect(matcher.matches(key), key).toBe(false);
    }
  });

  it('returns the very same object when there is nothing to redact', () => {
    const value = { a: 1, b: { c: [1, 2, { d: 'x' }] } };
    expect(redactDeep(value, matcher)).toBe(value);
  });

  it('redacts at any depth without mutating the input', () => {
    const input = {
      a: { b: { c: { d: { e: { password: 'p', keep: 1 } } } } },
      list: [{ token: 't' }, 'x'],
    };
    const snapshot = structuredClone(input);
    expect(redactDeep(input, matcher)).toStrictEqual({
      a: { b: { c: { d: { e: { password: CENSOR, keep: 1 } } } } },
      list: [{ token: CENSOR }, 'x'],
    });
    expect(input).toStrictEqual(snapshot);
  });

  it('keeps an error’s message and stack when it has to copy it', () => {
    const error = Object.assign(new Error('boom'), { secret: 's' });
    const out = redactDeep({ error }, matcher) as { error: Record<string, unknown> };
    expect(out.error).toMatchObject({ secret: CENSOR, message: 'boom', type: 'Error' });
    expect(String(out.error.stack)).toContain('boom');
  });

  it('survives cycles', () => {
    const a: Record<string, unknown> = { password: 'p' };
    a.self = a;
    const out = redactDeep(a, matcher) as Record<string, unknown>;
    expect(out.password).toBe(CENSOR);
  });

  it('leaves buffers and dates alone', () => {
    const value = { when: new Date(0), data: Buffer.from('x') };
    expect(redactDeep(value, matcher)).toBe(value);
  });
});

describe('request id safety', () => {
  it('accepts short ids of [A-Za-z0-9._:-] only', () => {
    expect(isSafeRequestId('abc-DEF_1.2:3', 128)).toBe(true);
    expect(isSafeRequestId('a'.repeat(128), 128)).toBe(true);
    expect(isSafeRequestId('a'.repeat(129), 128)).toBe(false);
    expect(isSafeRequestId('', 128)).toBe(false);
    expect(isSafeRequestId('a b', 128)).toBe(false);
    expect(isSafeRequestId('a\nb', 128)).toBe(false);
    expect(isSafeRequestId(['a'], 128)).toBe(false);
    expect(isSafeRequestId(undefined, 128)).toBe(false);
  });
});

describe('heap trend', () => {
  it('is the least-squares slope in bytes per minute, 0 with fewer than two samples', () => {
    expect(trendBytesPerMinute([])).toBe(0);
    expect(trendBytesPerMinute([{ at: 0, used: 5 }])).toBe(0);
    expect(
      trendBytesPerMinute([
        { at: 0, used: 1000 },
        { at: 30_000, used: 1500 },
        { at: 60_000, used: 2000 },
      ]),
    ).toBe(1000);
    expect(
      trendBytesPerMinute([
        { at: 0, used: 2000 },
        { at: 60_000, used: 1000 },
      ]),
    ).toBe(-1000);
  });
});
