import createError from '@fastify/error';

/** An account with this email already exists in the tenant. */
export const EmailTakenError = createError(
  'BULWARK_API_EMAIL_TAKEN',
  'An account with this email already exists in this tenant; log in instead',
  409,
);
/** One message for every login failure, so responses never tell which part was wrong. */
export const InvalidCredentialsError = createError(
  'BULWARK_API_INVALID_CREDENTIALS',
  'Invalid tenant, email or password',
  401,
);
export const UnauthorizedError = createError(
  'BULWARK_API_UNAUTHORIZED',
  'Missing, invalid or expired access token; send "Authorization: Bearer <token>" from POST /auth/login',
  401,
);
export const ForbiddenError = createError<[string]>('BULWARK_API_FORBIDDEN', 'You may not %s', 403);
export const NotFoundError = createError<[string]>('BULWARK_API_NOT_FOUND', '%s not found', 404);
export const InvalidCursorError = createError(
  'BULWARK_API_INVALID_CURSOR',
  'cursor is not one this API issued; pass nextCursor from the previous page unchanged',
  400,
);
/** Erasing the last admin of a tenant that has other members would leave it unmanaged. */
export const LastAdminError = createError(
  'BULWARK_API_LAST_ADMIN',
  'This account is the last admin of a tenant with other members; promote another member to admin (PATCH /api/v1/admin/users/:id) first',
  409,
);
