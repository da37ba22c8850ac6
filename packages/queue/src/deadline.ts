/**
 * Runs one attempt of a job handler so that the attempt settles no later than its deadline, or
 * at once when `controller` aborts for another reason (shutdown). A handler that ignores its
 * signal keeps running in the background, but its worker slot is free: the attempt has failed
 * with the abort reason. Whatever the handler settles with afterwards is ignored.
 */
export function runWithDeadline<R>(
  run: (signal: AbortSignal) => R | PromiseLike<R>,
  controller: AbortController,
  timeoutMs: number,
  timeoutReason: () => Error,
): Promise<R> {
  const { signal } = controller;
  return new Promise<R>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(() => controller.abort(timeoutReason()), timeoutMs);
    // The worker keeps the process alive while it runs; a deadline alone must not.
    timer.unref();
    const settle = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    let result: R | PromiseLike<R>;
    try {
      result = run(signal);
    } catch (error) {
      settle();
      reject(error);
      return;
    }
    Promise.resolve(result).then(
      (value) => {
        settle();
        resolve(value);
      },
      (error: unknown) => {
        settle();
        reject(error);
      },
    );
  });
}

/** Resolves `true` when `promise` settles within `ms`, `false` otherwise; never rejects. */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}
