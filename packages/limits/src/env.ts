import type { LimitsOptions } from './options.js';

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be an integer ≥ 1, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function tier(env: Env, name: string): { max?: number; windowMs?: number } | undefined {
  const max = integer(env, `RATE_LIMIT_${name}_MAX`);
  const windowMs = integer(env, `RATE_LIMIT_${name}_WINDOW_MS`);
  if (max === undefined && windowMs === undefined) return undefined;
  return { ...(max === undefined ? {} : { max }), ...(windowMs === undefined ? {} : { windowMs }) };
}

/**
 * Maps environment variables to plugin options, for apps configured by env (unset variables
 * leave the plugin's defaults): `REDIS_URL` → `redis`; `RATE_LIMIT_STORE_TIMEOUT_MS`;
 * `RATE_LIMIT_{GLOBAL,TENANT,USER,AUTH}_{MAX,WINDOW_MS}`; `RATE_LIMIT_LEGACY_HEADERS=true`;
 * `LOAD_SHEDDING=off`. Extractors (`tenant.key`…) are code: pass them in `options`, which is
 * merged over the env values one level deep (a tier's `key` joins its env `max`/`windowMs`).
 */
export function limitsOptionsFromEnv(
  env: Env = process.env,
  options: LimitsOptions = {},
): LimitsOptions {
  const fromEnv = optionsOf(env);
  const merged: Record<string, unknown> = { ...fromEnv };
  for (const [key, value] of Object.entries(options)) {
    const base = merged[key];
    merged[key] = isPlainObject(base) && isPlainObject(value) ? { ...base, ...value } : value;
  }
  return merged as LimitsOptions;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype
  );
}

function optionsOf(env: Env): LimitsOptions {
  const options: LimitsOptions = {};
  if (env.REDIS_URL) options.redis = env.REDIS_URL;
  const timeout = integer(env, 'RATE_LIMIT_STORE_TIMEOUT_MS');
  if (timeout !== undefined) options.storeTimeoutMs = timeout;
  for (const [key, name] of [
    ['global', 'GLOBAL'],
    ['tenant', 'TENANT'],
    ['user', 'USER'],
    ['auth', 'AUTH'],
  ] as const) {
    const value = tier(env, name);
    if (value) options[key] = value;
  }
  if (env.RATE_LIMIT_LEGACY_HEADERS === 'true') options.legacyHeaders = true;
  if (env.LOAD_SHEDDING === 'off') options.shedding = false;
  return options;
}
