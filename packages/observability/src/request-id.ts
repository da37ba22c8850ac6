import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const SAFE_ID = /^[A-Za-z0-9._:-]+$/;

/** True when an incoming id is short and made only of `[A-Za-z0-9._:-]`, so it is safe in logs and headers. */
export function isSafeRequestId(value: unknown, maxLength: number): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= maxLength &&
    SAFE_ID.test(value)
  );
}

/**
 * Builds Fastify's `genReqId`: the incoming header when safe, otherwise a fresh UUID. An unsafe id
 * is dropped rather than cleaned, so a client cannot forge log lines or grow them without bound.
 */
export function requestIdGenerator(
  header: string,
  maxLength: number,
): (request: IncomingMessage) => string {
  const name = header.toLowerCase();
  return function genReqId(request: IncomingMessage): string {
    const incoming = request.headers[name];
    return isSafeRequestId(incoming, maxLength) ? incoming : randomUUID();
  };
}
