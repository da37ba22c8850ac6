import { createRequire } from 'node:module';
import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import type { FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import Fastify from 'fastify';
import pino, { type DestinationStream, type LoggerOptions } from 'pino';
import { InvalidOptionError, PrettyMissingError } from './errors.js';
import { KeyMatcher, redactDeep } from './redact.js';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Options of {@link loggerOptions} and {@link serverOptions}. */
export interface LoggerSetupOptions {
  /**
   * Log level.
   * @default process.env.LOG_LEVEL ?? 'info'
   */
  level?: string;
  /**
   * Human-readable output through pino-pretty instead of JSON lines.
   * @default process.env.NODE_ENV === 'development'
   */
  pretty?: boolean;
  /** Extra keys to redact at any depth, in addition to the built-in credential names. @default [] */
  redactKeys?: string[];
  /**
   * Write to this file (appending, buffered) instead of stdout.
   * @default undefined (stdout)
   */
  file?: string;
  /** Pino options merged last (serializers are wrapped with redaction too). @default {} */
  pino?: LoggerOptions;
}

/** Pino options plus the destination stream Fastify's `logger` option accepts. */
export type BulwarkLoggerOptions = LoggerOptions & { stream?: DestinationStream };

// biome-ignore lint/suspicious/noExplicitAny: pino serializers receive whatever was logged
type Serializer = (value: any) => unknown;

const NO_TRACE = Object.freeze({}) as Record<string, string>;

/** Adds `trace_id` and `span_id` to a log line when a span is active in the current context. */
export function traceMixin(): Record<string, string> {
  const span = trace.getSpan(context.active());
  if (span === undefined) return NO_TRACE;
  const spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) return NO_TRACE;
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}

// pino's default strategy is Object.assign(mixin, merge): it writes into the mixin's object, so the
// shared empty NO_TRACE must never be the target.
function mixinMergeStrategy(merge: object, mixin: object): object {
  return mixin === NO_TRACE ? merge : Object.assign(mixin, merge);
}

function requestSerializer(request: FastifyRequest) {
  return {
    method: request.method,
    url: request.url,
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

function replySerializer(reply: FastifyReply) {
  return { statusCode: reply.statusCode };
}

/**
 * Pino options for Fastify's own logger: `Fastify({ logger: loggerOptions() })`.
 *
 * - JSON lines in production; pino-pretty when `pretty` (default: `NODE_ENV === 'development'`).
 * - `LOG_LEVEL` honoured.
 * - Credentials redacted at any depth.
 * - `trace_id`/`span_id` on every line written while a span is active.
 */
export function loggerOptions(options: LoggerSetupOptions = {}): BulwarkLoggerOptions {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  if (!LEVELS.includes(level)) {
    throw new InvalidOptionError(
      `logger level must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(level)}`,
    );
  }
  const redactKeys = options.redactKeys ?? [];
  if (!Array.isArray(redactKeys) || redactKeys.some((key) => typeof key !== 'string')) {
    throw new InvalidOptionError(
      `logger redactKeys must be an array of strings, got ${JSON.stringify(redactKeys)}`,
    );
  }
  const matcher = new KeyMatcher(redactKeys);
  const user = options.pino ?? {};

  // Why not pino's `redact`: it takes fixed paths (`req.headers.authorization`, `*.password`), one
  // wildcard level at most, so a `password` three objects deep in a logged body or an error's
  // `cause` goes out in clear. Instead every logged object is walked (copy-on-write, no allocation
  // when there is nothing to hide): `formatters.log` walks the line's own keys and
  // `formatters.bindings` the child bindings; keys with a serializer (req, res, err, …) are skipped
  // there, because pino runs serializers after the formatter, and each serializer's output is
  // walked instead.
  const baseSerializers: Record<string, Serializer> = {
    req: requestSerializer,
    res: replySerializer,
    err: pino.stdSerializers.err,
    ...(user.serializers as Record<string, Serializer> | undefined),
  };
  const serializers: Record<string, Serializer> = {};
  for (const [key, serialize] of Object.entries(baseSerializers)) {
    serializers[key] = (value: unknown) => redactDeep(serialize(value), matcher);
  }
  const serialized = new Set(Object.keys(serializers));

  const userLog = user.formatters?.log;
  const userBindings = user.formatters?.bindings;
  const result: BulwarkLoggerOptions = {
    ...user,
    level,
    serializers,
    mixin: user.mixin ?? traceMixin,
    mixinMergeStrategy: user.mixinMergeStrategy ?? mixinMergeStrategy,
    formatters: {
      ...user.formatters,
      log(object) {
        const input = userLog ? userLog(object) : object;
        let copy: Record<string, unknown> | undefined;
        for (const key of Object.keys(input)) {
          if (serialized.has(key)) continue;
          const value = input[key];
          const next =
            matcher.matches(key) && value !== undefined ? '[Redacted]' : redactDeep(value, matcher);
          if (next !== value) {
            copy ??= { ...input };
            copy[key] = next;
          }
        }
        return copy ?? input;
      },
      bindings(bindings) {
        const input = userBindings ? userBindings(bindings) : bindings;
        return redactDeep(input, matcher) as Record<string, unknown>;
      },
    },
  };

  const pretty = options.pretty ?? process.env.NODE_ENV === 'development';
  if (pretty) {
    // Loaded only when asked for: production pays nothing for it. An in-process stream (not a
    // transport) so no worker thread has to resolve pino-pretty from Fastify's directory.
    // pino-pretty is an optional peer (a development tool): missing, it is a coded error.
    const require = createRequire(import.meta.url);
    let prettyFactory: (options: object) => DestinationStream;
    try {
      prettyFactory = require('pino-pretty') as typeof prettyFactory;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
      throw new PrettyMissingError({ cause: error });
    }
    result.stream = prettyFactory({
      colorize: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      destination: options.file ?? 1,
    });
  } else if (options.file !== undefined) {
    result.stream = pino.destination({
      dest: options.file,
      sync: false,
      minLength: 4096,
      mkdir: true,
    });
  } else {
    // stdout is written synchronously. pino's default stdout stream writes asynchronously: a line
    // can still be in a thread-pool write when the process exits, and the exit-time flushSync
    // then writes the lines logged after it first (seen under load: `shutdown complete` before
    // the last shutdown step, each line stamped in order). One write per line, in call order.
    result.stream = pino.destination({ dest: process.stdout.fd ?? 1, sync: true });
  }
  return result;
}

/**
 * Fastify constructor options for a service using this package:
 * `Fastify(serverOptions())` gives the logger of {@link loggerOptions} and turns Fastify's own
 * `incoming request` / `request completed` lines off, since the plugin writes one completion line
 * per request instead.
 */
export function serverOptions(options: LoggerSetupOptions = {}): FastifyServerOptions {
  const LogController = (Fastify as unknown as { LogController?: new (options: object) => unknown })
    .LogController;
  return {
    logger: loggerOptions(options),
    // Fastify ≥ 5.8 deprecates the top-level `disableRequestLogging` in favour of a log controller.
    ...(LogController
      ? ({ logController: new LogController({ disableRequestLogging: true }) } as object)
      : { disableRequestLogging: true }),
  };
}
