import type { FastifyError, FastifyInstance } from 'fastify';
import { BadRequestError, InternalError } from './errors.js';

/** A stable identifier (`BULWARK_*`, `FST_*`), not a SQLSTATE like `22P02` or an errno. */
const CODE = /^(BULWARK|FST)_[A-Z0-9_]+$/;

/**
 * Every error a client sees is `{ statusCode, code, error, message }`, in every environment:
 * - 4xx: the error's own code and message, which say what to fix;
 * - 503/504 with a `BULWARK_*` code (database unavailable, hashing budget spent, shedding):
 *   the message is written for clients and `Retry-After` goes with it;
 * - any other 5xx: `BULWARK_API_INTERNAL` and a generic message. Never SQLSTATE, errno, driver
 *   or library text, not even outside production: what a client can read in development, a
 *   client copies into production code, and a tampered input can make the database talk.
 * Not logged here: @bulwark/observability's completion line carries each 5xx with its error,
 * once (logging here too wrote every failure twice).
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler(
    (error: FastifyError & { headers?: Record<string, string> }, _request, reply) => {
      const status = Number(error.statusCode);
      const statusCode = Number.isInteger(status) && status >= 400 && status < 600 ? status : 500;
      const code = typeof error.code === 'string' ? error.code : '';
      const forClients =
        (statusCode < 500 && CODE.test(code)) ||
        ((statusCode === 503 || statusCode === 504) && code.startsWith('BULWARK_'));
      if (!forClients) {
        // A 4xx keeps its status (the client did send something wrong), not its words.
        const generic = statusCode < 500 ? new BadRequestError() : new InternalError();
        return reply.code(statusCode).send({
          statusCode,
          code: generic.code,
          error: httpError(statusCode),
          message: generic.message,
        });
      }
      if (error.headers) reply.headers(error.headers);
      return reply.code(statusCode).send({
        statusCode,
        code,
        error: httpError(statusCode),
        message: error.message,
      });
    },
  );
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      statusCode: 404,
      code: 'BULWARK_API_ROUTE_NOT_FOUND',
      error: 'Not Found',
      message: `No route ${request.method} ${request.url.split('?')[0]}; see /docs for the API`,
    }),
  );
}

const names: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
function httpError(statusCode: number): string {
  return names[statusCode] ?? (statusCode >= 500 ? 'Internal Server Error' : 'Bad Request');
}
