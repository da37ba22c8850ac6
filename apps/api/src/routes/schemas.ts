import { Type } from '@sinclair/typebox';

/** The project's error body, for every 4xx/5xx response schema. */
export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String(),
    error: Type.String(),
    message: Type.String(),
  },
  { $id: 'ErrorBody' },
);

export const TenantSlug = Type.String({
  pattern: '^[a-z0-9][a-z0-9-]{1,62}$',
  description: 'lowercase letters, digits and dashes, 2–63 characters',
});
export const Email = Type.String({ format: 'email', maxLength: 254 });
export const Password = Type.String({
  minLength: 12,
  maxLength: 256,
  description: 'at least 12 characters',
});
/** A canonical uuid (ajv-formats' `uuid`): anything else is a 400 before it reaches SQL. */
export const Uuid = Type.String({ format: 'uuid' });
export const Role = Type.Union([
  Type.Literal('admin'),
  Type.Literal('moderator'),
  Type.Literal('user'),
]);
export const User = Type.Object({
  id: Type.String({ format: 'uuid' }),
  email: Type.String(),
  tenant: Type.String(),
  role: Role,
});
export const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((code) => [code, Type.Ref('ErrorBody')]));
