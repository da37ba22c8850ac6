// Figures over a time window of load records (see steady-load.mjs).

export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** A request failed when it got no answer or a non-2xx one. */
export const failed = (record) =>
  record.error !== undefined || record.status < 200 || record.status >= 300;

/** Records whose request started in [from, to) (performance.now() times) and pass `filter`. */
export function within(records, from = -Infinity, to = Infinity, filter = () => true) {
  return records.filter((record) => record.start >= from && record.start < to && filter(record));
}

/**
 * Recovery: the start of the first request from which every later one succeeded (undefined when
 * the last request failed).
 */
export function recoveredFrom(records) {
  const sorted = [...records].sort((a, b) => a.start - b.start);
  let lastFailure = -1;
  sorted.forEach((record, index) => {
    if (failed(record)) lastFailure = index;
  });
  return sorted[lastFailure + 1]?.start;
}

/** Count, failures, 5xx, errors, statuses and latency percentiles of `records`. */
export function summarize(records) {
  const statuses = {};
  for (const record of records) {
    const key = record.error === undefined ? String(record.status) : `error ${record.error}`;
    statuses[key] = (statuses[key] ?? 0) + 1;
  }
  const ms = records.map((record) => record.ms);
  return {
    count: records.length,
    failed: records.filter(failed).length,
    serverErrors: records.filter((record) => record.status >= 500).length,
    errors: records.filter((record) => record.error !== undefined).length,
    statuses,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: ms.length === 0 ? Number.NaN : Math.max(...ms),
  };
}

/** `{"200": 120, "503": 3}` → `200×120, 503×3`. */
export function statusText(statuses) {
  const entries = Object.entries(statuses).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? 'none' : entries.map(([key, n]) => `${key}×${n}`).join(', ');
}

export const ms = (value) => (Number.isFinite(value) ? `${value.toFixed(1)} ms` : '—');
