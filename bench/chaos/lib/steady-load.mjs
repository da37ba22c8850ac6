// A steady-rate HTTP load generator with bounded concurrency that records every request
// (start, latency, status or error), so scenarios can judge any time window of a run.
// autocannon reports totals; a fault scenario needs "what happened between the cut and the heal".
import http from 'node:http';

/**
 * One request on a keep-alive agent. Resolves `{ status, headers, body }` or rejects with the
 * socket error, or with a `timeout` error after `timeoutMs` (the request is destroyed).
 */
export function send(agent, spec, timeoutMs) {
  return new Promise((resolve, reject) => {
    const url = new URL(spec.url);
    const body = spec.body === undefined ? undefined : Buffer.from(spec.body);
    const headers = { ...spec.headers };
    if (body) headers['content-length'] = String(body.length);
    const request = http.request({
      host: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      method: spec.method ?? 'GET',
      headers,
      agent,
    });
    const timer = setTimeout(() => {
      const error = new Error(`no answer within ${timeoutMs} ms`);
      error.code = 'TIMEOUT';
      request.destroy(error);
    }, timeoutMs);
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.on('response', (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      response.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: response.statusCode,
          headers: response.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    request.end(body);
  });
}

/**
 * Starts issuing `rate` requests per second, never more than `concurrency` at once. A request
 * that is due while every slot is busy is skipped and counted (never queued: a stall must not
 * turn into a burst afterwards). `next(index)` returns the request spec `{ label, method, url,
 * headers, body, onResponse? }` or undefined to skip that tick.
 *
 * Each record: `{ label, start, end, ms, status, error, retryAfter, code }`, times from
 * `performance.now()` (the clock the scenarios mark their phases with). `transport(agent, spec,
 * timeoutMs)` sends one request; the default is {@link send} (node:http, keep-alive).
 */
export function startLoad({ rate, concurrency, next, timeoutMs = 10_000, transport = send }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const records = [];
  const started = performance.now();
  let issued = 0;
  let skipped = 0;
  let inFlight = 0;
  let stopping = false;
  let drained;
  const idle = new Promise((resolve) => {
    drained = resolve;
  });

  async function fire(index) {
    let spec;
    try {
      spec = next(index);
    } catch (error) {
      records.push({ label: 'generator', start: performance.now(), ms: 0, error: error.message });
      return;
    }
    if (!spec) return;
    inFlight += 1;
    const record = { label: spec.label ?? spec.method ?? 'GET', start: performance.now() };
    try {
      const response = await transport(agent, spec, timeoutMs);
      record.status = response.status;
      const retryAfter = response.headers['retry-after'];
      if (retryAfter !== undefined) record.retryAfter = retryAfter;
      if (response.status >= 400) {
        try {
          record.code = JSON.parse(response.body).code;
        } catch {
          record.code = undefined;
        }
      }
      spec.onResponse?.(response);
    } catch (error) {
      record.error = error.code ?? error.message;
    } finally {
      record.end = performance.now();
      record.ms = record.end - record.start;
      records.push(record);
      inFlight -= 1;
      if (stopping && inFlight === 0) drained();
    }
  }

  const tick = setInterval(() => {
    const due = Math.floor(((performance.now() - started) * rate) / 1000);
    while (issued < due) {
      issued += 1;
      if (inFlight >= concurrency) skipped += 1;
      else void fire(issued);
    }
  }, 5);

  return {
    records,
    get inFlight() {
      return inFlight;
    },
    /** Stops issuing, waits for the requests in flight, and returns every record. */
    async stop() {
      clearInterval(tick);
      stopping = true;
      if (inFlight > 0) await idle;
      agent.destroy();
      return { records, skipped, seconds: (performance.now() - started) / 1000 };
    },
  };
}
