import { context, TraceFlags, trace } from '@opentelemetry/api';

/** Set on globalThis by the `@bulwark/observability/otel` preload once the SDK has started. */
export const OTEL_STARTED = Symbol.for('bulwark.observability.otel');

/** True when a real tracer provider is installed (our preload, or the app's own SDK). */
export function tracingActive(): boolean {
  if ((globalThis as Record<symbol, unknown>)[OTEL_STARTED] === true) return true;
  const provider = trace.getTracerProvider() as { getDelegate?: () => object };
  const delegate = provider.getDelegate?.() ?? provider;
  return delegate.constructor.name !== 'NoopTracerProvider';
}

/** The trace id of the active span when it is sampled (an unsampled id exists in no backend). */
export function sampledTraceId(): string | undefined {
  const span = trace.getSpan(context.active());
  if (span === undefined) return undefined;
  const spanContext = span.spanContext();
  return (spanContext.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED
    ? spanContext.traceId
    : undefined;
}

/** Flushes pending spans of the global tracer provider, bounded by `timeoutMs`. */
export async function flushSpans(timeoutMs: number): Promise<void> {
  const provider = trace.getTracerProvider() as { getDelegate?: () => object };
  const delegate = (provider.getDelegate?.() ?? provider) as { forceFlush?: () => Promise<void> };
  if (typeof delegate.forceFlush !== 'function') return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
    timer.unref();
  });
  try {
    await Promise.race([delegate.forceFlush(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
