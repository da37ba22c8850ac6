import type { FastifyError, FastifyInstance } from 'fastify';

/**
 * Every error a client sees is `{ statusCode, code, error, message }`. 4xx messages say what
 * to fix; 5xx messages are generic in production unless they come from a Bulwark error whose
 * message is written for clients (503 "database unavailable, retry after …").
 */
export function installErrorHandler(app: FastifyInstance, production: boolean): void {
  app.setErrorHandler(
    (error: FastifyError & { headers?: Record<string, string> }, request, reply) => {
      const statusCode = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
      if (error.headers) reply.headers(error.headers);
      const code = error.code ?? 'BULWARK_API_INTERNAL';
      const safe = statusCode < 500 || code.startsWith('BULWARK_') || !production;
      if (statusCode >= 500) request.log.error({ err: error }, 'request failed');
      return reply.code(statusCode).send({
        statusCode,
        code,
        error: httpError(statusCode),
        message: safe ? error.message : 'Something went wrong on our side; try again later',
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
