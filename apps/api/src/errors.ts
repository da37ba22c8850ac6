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
/** Registration into a tenant that exists, without an invitation. */
export const InvitationRequiredError = createError(
  'BULWARK_API_INVITATION_REQUIRED',
  'This tenant name is taken; to join it, ask the tenant\'s admin for an invitation and send it as "invitation", or pick another tenant name to create your own',
  403,
);
/** One answer for every unusable invitation, so it never tells which check failed. */
export const InvitationInvalidError = createError(
  'BULWARK_API_INVITATION_INVALID',
  "This invitation is not valid for this tenant and email: it may be expired, already used or meant for someone else; ask the tenant's admin for a new one",
  403,
);
/** The change would leave the tenant without an admin. */
export const LastAdminError = createError(
  'BULWARK_API_LAST_ADMIN',
  'This is the last admin of the tenant; promote another user to admin first',
  409,
);
/** Text with a NUL character or an unpaired UTF-16 surrogate: PostgreSQL cannot store it as sent. */
export const InvalidTextError = createError<[string]>(
  'BULWARK_API_INVALID_TEXT',
  '%s must be valid Unicode text without NUL characters or unpaired surrogates',
  400,
);
/** The generic body of every unexpected failure: no internals, in any environment. */
export const InternalError = createError(
  'BULWARK_API_INTERNAL',
  'Something went wrong on our side; try again later',
  500,
);
/** A 4xx from a library whose code or message is not written for clients. */
export const BadRequestError = createError(
  'BULWARK_API_BAD_REQUEST',
  'The request could not be processed; check it against the API document at /docs',
  400,
);
