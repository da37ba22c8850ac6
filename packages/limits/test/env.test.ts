import { describe, expect, it } from 'vitest';
import { limitsOptionsFromEnv } from '../src/index.js';

describe('limitsOptionsFromEnv()', () => {
  it('leaves every default in place when nothing is set', () => {
    expect(limitsOptionsFromEnv({})).toStrictEqual({});
  });

  it('maps the documented variables', () => {
    expect(
      limitsOptionsFromEnv({
        REDIS_URL: 'redis://r:6379',
        RATE_LIMIT_STORE_TIMEOUT_MS: '80',
        RATE_LIMIT_GLOBAL_MAX: '500',
        RATE_LIMIT_USER_WINDOW_MS: '30000',
        RATE_LIMIT_AUTH_MAX: '3',
        RATE_LIMIT_AUTH_WINDOW_MS: '600000',
        RATE_LIMIT_LEGACY_HEADERS: 'true',
        LOAD_SHEDDING: 'off',
      }),
    ).toStrictEqual({
      redis: 'redis://r:6379',
      storeTimeoutMs: 80,
      global: { max: 500 },
      user: { windowMs: 30_000 },
      auth: { max: 3, windowMs: 600_000 },
      legacyHeaders: true,
      shedding: false,
    });
  });

  it('merges the app options over the env values, one level deep', () => {
    const key = () => 'u';
    const options = limitsOptionsFromEnv(
      { RATE_LIMIT_USER_MAX: '10', LOAD_SHEDDING: 'off' },
      {
        user: { key },
        shedding: { initialLimit: 5 },
      },
    );
    expect(options).toStrictEqual({ user: { max: 10, key }, shedding: { initialLimit: 5 } });
  });

  it('rejects a bad value, naming the variable', () => {
    expect(() => limitsOptionsFromEnv({ RATE_LIMIT_USER_MAX: 'many' })).toThrow(
      /RATE_LIMIT_USER_MAX/,
    );
  });
});
