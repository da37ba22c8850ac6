import { Ajv, type ErrorObject } from 'ajv';
import * as formatsModule from 'ajv-formats';
import { InvalidDefinitionError } from './errors.js';

/** Checks one payload; returns `undefined` when valid, else what is wrong, for a 400 message. */
export type PayloadValidator = (data: unknown) => string | undefined;

type FormatsPlugin = (ajv: Ajv) => Ajv;
// ajv-formats is CommonJS with `exports.default`; under NodeNext the default import can be the
// module object or the function depending on the loader, so unwrap whichever we got.
const formats = formatsModule as unknown as { default: FormatsPlugin | { default: FormatsPlugin } };
const addFormats: FormatsPlugin =
  typeof formats.default === 'function' ? formats.default : formats.default.default;

let shared: Ajv | undefined;

function ajv(): Ajv {
  if (!shared) {
    // Same choices as Fastify's default validator, so a schema that works on a route works here;
    // no coercion or defaults: a job payload is data, not a query string.
    shared = new Ajv({ allErrors: false, strict: false, coerceTypes: false, useDefaults: false });
    addFormats(shared);
  }
  return shared;
}

function describe(error: ErrorObject): string {
  const where =
    error.instancePath === '' ? 'payload' : error.instancePath.slice(1).replaceAll('/', '.');
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperty?: string }).additionalProperty;
    return `${where} must not have property "${extra}"`;
  }
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty?: string }).missingProperty;
    return `${where} must have property "${missing}"`;
  }
  return `${where} ${error.message ?? 'is invalid'}`;
}

/** Compiles a TypeBox or JSON Schema once, at `define()`; no schema accepts any payload. */
export function compilePayloadValidator(
  queue: string,
  schema: object | undefined,
): PayloadValidator {
  if (schema === undefined) return () => undefined;
  let validate: ReturnType<Ajv['compile']>;
  try {
    validate = ajv().compile(schema);
  } catch (error) {
    throw Object.assign(
      new InvalidDefinitionError(
        `queue "${queue}" has an invalid schema: ${(error as Error).message}`,
      ),
      { cause: error },
    );
  }
  return (data) => {
    if (validate(data)) return undefined;
    const first = validate.errors?.[0];
    return first ? describe(first) : 'payload is invalid';
  };
}
