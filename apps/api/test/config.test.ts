import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const serverEntry = fileURLToPath(new URL('../dist/server.js', import.meta.url));

describe('configuration from the environment', () => {
  it('applies safe defaults when nothing is set', () => {
    expect(loadConfig({})).toStrictEqual({
      NODE_ENV: 'development',
      PORT: 3000,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      JWT_EXPIRES_IN: '15m',
      JWT_ISSUER: 'bulwark-api',
      JWT_AUDIENCE: 'bulwark-api',
      INVITATION_EXPIRES_IN: '7d',
      TRUST_PROXY: 'false',
      RATE_LIMIT_GLOBAL_MAX: 600,
      RATE_LIMIT_GLOBAL_WINDOW_MS: 60_000,
      RATE_LIMIT_TENANT_MAX: 1000,
      RATE_LIMIT_TENANT_WINDOW_MS: 60_000,
      RATE_LIMIT_USER_MAX: 60,
      RATE_LIMIT_USER_WINDOW_MS: 60_000,
      RATE_LIMIT_AUTH_MAX: 5,
      RATE_LIMIT_AUTH_WINDOW_MS: 900_000,
      RATE_LIMIT_AUTH_ACCOUNT_MAX: 10,
      RATE_LIMIT_AUTH_ACCOUNT_WINDOW_MS: 900_000,
      RATE_LIMIT_AUTH_IP_MAX: 30,
      RATE_LIMIT_AUTH_IP_WINDOW_MS: 900_000,
      REQUEST_TIMEOUT_MS: 30_000,
      HEADERS_TIMEOUT_MS: 10_000,
      KEEP_ALIVE_TIMEOUT_MS: 72_000,
      BODY_LIMIT_BYTES: 1_048_576,
      DB_POOL_MIN: 2,
      DB_POOL_MAX: 20,
      DB_STATEMENT_TIMEOUT_MS: 30_000,
      DB_CONNECTION_TIMEOUT_MS: 10_000,
      DB_IDLE_TIMEOUT_MS: 30_000,
      DB_QUERY_TIMEOUT_MS: 3000,
      REQUEST_DEADLINE_MS: 4000,
      DB_BREAKER_RESET_TIMEOUT_MS: 30_000,
      DB_BREAKER_WINDOW_MS: 10_000,
      SHUTDOWN_TIMEOUT_MS: 30_000,
      OUTBOX_SWEEP_INTERVAL_MS: 30_000,
      OUTBOX_STALE_AFTER_MS: 60_000,
      QUEUE_CONSUMER_LIVENESS_MS: 60_000,
      WORKER_HEALTH_PORT: 3001,
      WORKERS: 'inline',
    });
  });

  it('converts and keeps valid values', () => {
    const config = loadConfig({
      PORT: '8080',
      LOG_LEVEL: 'warn',
      DATABASE_URL: 'postgres://app@db:5432/app',
      REDIS_URL: 'redis://cache:6379',
    });
    expect(config).toMatchObject({
      PORT: 8080,
      LOG_LEVEL: 'warn',
      REDIS_URL: 'redis://cache:6379',
    });
  });

  it.each([
    ['PORT', 'eighty', 'PORT="eighty" is invalid: expects an integer TCP port from 0 to 65535'],
    ['PORT', '70000', 'PORT="70000" is invalid: expects an integer TCP port from 0 to 65535'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL="loud" is invalid: expects a pino level'],
    ['NODE_ENV', 'prod', 'NODE_ENV="prod" is invalid: expects development, production or test'],
    ['DATABASE_URL', 'mysql://x', 'DATABASE_URL="mysql://x" is invalid: expects a postgres:// URL'],
    [
      'REDIS_URL',
      'localhost:6379',
      'REDIS_URL="localhost:6379" is invalid: expects a redis:// URL',
    ],
  ])('names %s and what it expects when it is %s', (name, value, expected) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(expected);
  });

  it('stops the process with one clear line and exit code 1 on a bad value', async () => {
    const run = promisify(execFile)(process.execPath, [serverEntry], {
      env: { ...process.env, PORT: 'not-a-port' },
    });
    const failure = await run.then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr.trim().split('\n')).toStrictEqual([
      'Invalid configuration: PORT="not-a-port" is invalid: expects an integer TCP port from 0 to 65535',
    ]);
  });
});

describe('server timeouts', () => {
  it('reads REQUEST_TIMEOUT_MS, HEADERS_TIMEOUT_MS and BODY_LIMIT_BYTES', () => {
    expect(
      loadConfig({
        REQUEST_TIMEOUT_MS: '2000',
        HEADERS_TIMEOUT_MS: '500',
        BODY_LIMIT_BYTES: '4096',
      }),
    ).toMatchObject({ REQUEST_TIMEOUT_MS: 2000, HEADERS_TIMEOUT_MS: 500, BODY_LIMIT_BYTES: 4096 });
  });

  it('refuses a headers timeout above the request timeout', () => {
    expect(() => loadConfig({ REQUEST_TIMEOUT_MS: '1000', HEADERS_TIMEOUT_MS: '5000' })).toThrow(
      'HEADERS_TIMEOUT_MS=5000 is above REQUEST_TIMEOUT_MS=1000',
    );
    expect(() => loadConfig({ REQUEST_TIMEOUT_MS: '0' })).toThrow(
      'REQUEST_TIMEOUT_MS="0" is invalid',
    );
  });
});

describe('shutdown settings', () => {
  it('refuses a shutdown delay that does not fit in the shutdown deadline', () => {
    expect(() => loadConfig({ DB_QUERY_TIMEOUT_MS: '5000', SHUTDOWN_TIMEOUT_MS: '5000' })).toThrow(
      'DB_QUERY_TIMEOUT_MS=5000 is not below SHUTDOWN_TIMEOUT_MS=5000',
    );
    expect(() => loadConfig({ SHUTDOWN_DELAY_MS: '30000', SHUTDOWN_TIMEOUT_MS: '30000' })).toThrow(
      'SHUTDOWN_DELAY_MS=30000 is not below SHUTDOWN_TIMEOUT_MS=30000',
    );
    expect(loadConfig({ SHUTDOWN_DELAY_MS: '5000' })).toMatchObject({ SHUTDOWN_DELAY_MS: 5000 });
  });
});

describe('production refuses unsafe configuration', () => {
  const safe = {
    NODE_ENV: 'production',
    JWT_SECRET: 'k7Fq2vR9xLm4Pz8sWc1Ty6Hb3Nd5Jg0E',
    METRICS_TOKEN: 'metrics-token-0123456789',
    CORS_ORIGIN: 'https://app.example.com',
    DATABASE_URL: 'postgres://app@db:5432/app',
  };

  it('accepts generated secrets and several absolute origins', () => {
    for (const secret of [
      'k7Fq2vR9xLm4Pz8sWc1Ty6Hb3Nd5Jg0E',
      'bench-only-secret-that-is-long-and-not-a-default-0123456789',
    ]) {
      expect(loadConfig({ ...safe, JWT_SECRET: secret }).JWT_SECRET).toBe(secret);
    }
    expect(
      loadConfig({
        ...safe,
        CORS_ORIGIN: 'https://app.example.com, https://admin.example.com:8443',
      }),
    ).toMatchObject({ NODE_ENV: 'production' });
  });

  it('starts with a complete production configuration', () => {
    expect(loadConfig(safe)).toMatchObject({
      NODE_ENV: 'production',
      CORS_ORIGIN: 'https://app.example.com',
    });
  });

  it.each([
    [
      'JWT_SECRET unset',
      { JWT_SECRET: undefined },
      'JWT_SECRET is unset: production needs a random secret of at least 32 characters',
    ],
    [
      'JWT_SECRET short',
      { JWT_SECRET: 'tooshort' },
      'JWT_SECRET is 8 characters: production needs at least 32',
    ],
    [
      'JWT_SECRET a known default',
      { JWT_SECRET: 'development-only-secret-change-me' },
      'JWT_SECRET is a well-known default',
    ],
    [
      'METRICS_TOKEN unset',
      { METRICS_TOKEN: undefined },
      'METRICS_TOKEN is unset: production does not serve /metrics without a token',
    ],
    [
      'CORS_ORIGIN unset',
      { CORS_ORIGIN: undefined },
      'CORS_ORIGIN is unset: name the origins allowed to call the API',
    ],
    [
      'CORS_ORIGIN localhost',
      { CORS_ORIGIN: 'https://app.example.com,http://localhost:5173' },
      'allows localhost: name the production origins',
    ],
    ['CORS_ORIGIN 127.0.0.1', { CORS_ORIGIN: 'http://127.0.0.1:8080' }, 'allows localhost'],
    [
      'JWT_SECRET of 40 repeated letters',
      { JWT_SECRET: 'f'.repeat(40) },
      'JWT_SECRET has about 0 bits of entropy: production needs at least 128 (a random secret, not a repeated or patterned one); generate one with: openssl rand -base64 48',
    ],
    [
      'JWT_SECRET of a short pattern repeated',
      { JWT_SECRET: 'abcd'.repeat(10) },
      'JWT_SECRET has about 80 bits',
    ],
    [
      'JWT_SECRET short, saying how to generate one',
      { JWT_SECRET: 'tooshort' },
      'generate one with: openssl rand -base64 48',
    ],
    [
      'CORS_ORIGIN=*',
      { CORS_ORIGIN: '*' },
      'CORS_ORIGIN="*" would let any website call the API: name the production origins, like https://app.example.com',
    ],
    [
      'CORS_ORIGIN with * among others',
      { CORS_ORIGIN: 'https://app.example.com, *' },
      'CORS_ORIGIN="*"',
    ],
    [
      'CORS_ORIGIN without a scheme',
      { CORS_ORIGIN: 'app.example.com' },
      'CORS_ORIGIN="app.example.com" has an entry that is not an absolute http(s) origin',
    ],
    [
      'CORS_ORIGIN with a path',
      { CORS_ORIGIN: 'https://app.example.com/' },
      'is not an absolute http(s) origin',
    ],
    [
      'CORS_ORIGIN of another scheme',
      { CORS_ORIGIN: 'ftp://app.example.com' },
      'is not an absolute http(s) origin',
    ],
    [
      'DATABASE_URL unset',
      { DATABASE_URL: undefined },
      'DATABASE_URL is unset: production has no embedded database',
    ],
  ])('refuses %s', (_, change, expected) => {
    expect(() => loadConfig({ ...safe, ...change })).toThrow(expected);
  });

  it('lists every problem, one line each', () => {
    let message = '';
    try {
      loadConfig({ NODE_ENV: 'production' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split('\n')).toHaveLength(4);
    expect(message.split('\n').every((line) => line.startsWith('Invalid configuration: '))).toBe(
      true,
    );
  });

  it('does not apply production rules in development', () => {
    expect(loadConfig({ NODE_ENV: 'development' })).toMatchObject({ NODE_ENV: 'development' });
  });

  it('the process exits 1 naming each problem', async () => {
    const run = promisify(execFile)(process.execPath, [serverEntry], {
      env: {
        ...process.env,
        NODE_ENV: 'production',
        DATABASE_URL: '',
        JWT_SECRET: '',
        METRICS_TOKEN: '',
        CORS_ORIGIN: '',
      },
    });
    const failure = await run.then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain('Invalid configuration: JWT_SECRET is unset');
    expect(failure?.stderr).toContain('Invalid configuration: DATABASE_URL is unset');
  });
});
