import autocannon from 'autocannon';
import { openLoop } from './open-loop.mjs';

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * One autocannon run. Besides autocannon's own figures it keeps every response time by
 * status class, so overload scenarios can report goodput and the p99 of successful requests.
 */
export async function measure(url, load) {
  // A fixed offered rate needs a real open-loop client (see open-loop.mjs for why not autocannon).
  if (load.overallRate) return openLoop(url, load);
  const ok = [];
  const other = [];
  const instance = autocannon({
    url: url + (load.path ?? '/'),
    method: load.method ?? 'GET',
    headers: load.headers,
    body: load.body,
    connections: load.connections ?? 50,
    pipelining: load.pipelining ?? 1,
    duration: load.duration ?? 10,
    amount: load.amount,
    timeout: load.timeoutSeconds ?? 10,
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    (statusCode >= 200 && statusCode < 300 ? ok : other).push(responseTime);
  });
  const result = await instance;
  ok.sort((a, b) => a - b);
  const seconds = result.duration;
  return {
    reqPerSec: result.requests.average,
    goodputPerSec: ok.length / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    okP99: percentile(ok, 99),
    ok: ok.length,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The median of every figure measure() reports, over several runs of one server. */
export function medianOfRuns(runs) {
  const pick = (key) => median(runs.map((run) => run[key]));
  return {
    reqPerSec: pick('reqPerSec'),
    goodputPerSec: pick('goodputPerSec'),
    p50: pick('p50'),
    p99: pick('p99'),
    okP99: pick('okP99'),
    non2xx: pick('non2xx'),
    errors: pick('errors'),
  };
}
