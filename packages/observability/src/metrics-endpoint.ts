import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { ScrapeFailedError, UnauthorizedError } from './errors.js';
import {
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  renderOpenMetrics,
  wantsOpenMetrics,
} from './metrics.js';

const CHALLENGE = 'Bearer realm="metrics"';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Checks `Authorization: Bearer <token>` in constant time (digests have equal length). */
export function bearerCheck(
  token: string | undefined,
): (authorization: string | undefined) => boolean {
  if (token === undefined) return () => true;
  const expected = digest(`Bearer ${token}`);
  return (authorization) =>
    authorization !== undefined && timingSafeEqual(digest(authorization), expected);
}

/** The scrape body and its content type, by `Accept`. */
export async function scrape(
  registry: Registry,
  accept: string | undefined,
): Promise<[string, string]> {
  return wantsOpenMetrics(accept)
    ? [OPENMETRICS_CONTENT_TYPE, await renderOpenMetrics(registry)]
    : [PROMETHEUS_CONTENT_TYPE, await registry.metrics()];
}

/** Adds `GET <path>` to the main server, flagged as a probe (not counted, never limited or shed). */
export function addMetricsRoute(
  fastify: FastifyInstance,
  registry: Registry,
  path: string,
  token?: string,
): void {
  const authorized = bearerCheck(token);
  fastify.get(
    path,
    { config: { bulwarkProbe: true } },
    async (request: FastifyRequest, reply: FastifyReply) => {
      if (!authorized(request.headers.authorization)) {
        const error = new UnauthorizedError();
        (error as unknown as { headers: Record<string, string> }).headers = {
          'www-authenticate': CHALLENGE,
        };
        throw error;
      }
      const [type, body] = await scrape(registry, request.headers.accept);
      reply.type(type);
      return body;
    },
  );
}

function sendJson(
  response: ServerResponse,
  statusCode: number,
  body: object,
  headers: Record<string, string> = {},
) {
  const payload = JSON.stringify(body);
  response.writeHead(statusCode, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  response.end(payload);
}

/** A bare HTTP server answering only `GET|HEAD <path>`, for the separate metrics port. */
export function createMetricsServer(
  registry: Registry,
  path: string,
  token: string | undefined,
  onError: (error: unknown) => void,
): Server {
  const authorized = bearerCheck(token);
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = request.url ?? '/';
    const queryAt = url.indexOf('?');
    const requestPath = queryAt === -1 ? url : url.slice(0, queryAt);
    if (requestPath !== path || (request.method !== 'GET' && request.method !== 'HEAD')) {
      sendJson(response, 404, {
        statusCode: 404,
        code: 'FST_ERR_NOT_FOUND',
        error: 'Not Found',
        message: `Route ${request.method}:${url} not found`,
      });
      return;
    }
    if (!authorized(request.headers.authorization)) {
      const error = new UnauthorizedError();
      sendJson(
        response,
        401,
        { statusCode: 401, code: error.code, error: 'Unauthorized', message: error.message },
        { 'www-authenticate': CHALLENGE },
      );
      return;
    }
    scrape(registry, request.headers.accept).then(
      ([type, body]) => {
        response.writeHead(200, {
          'content-type': type,
          'content-length': Buffer.byteLength(body),
        });
        response.end(request.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        onError(error);
        const failure = new ScrapeFailedError({ cause: error });
        sendJson(response, 500, {
          statusCode: 500,
          code: failure.code,
          error: 'Internal Server Error',
          message: failure.message,
        });
      },
    );
  });
  return server;
}
