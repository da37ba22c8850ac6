// Polls a probe (a metrics scrape, a health read, a proxy counter) on a fixed interval into a
// timeline, so a scenario can tell when something changed and what its extremes were.

/**
 * Calls `probe()` every `intervalMs` (never two at once) and keeps `{ t, value }` samples, `t`
 * from performance.now(). A probe that throws is kept as `{ t, error }`.
 */
export function startSampler(probe, intervalMs) {
  const samples = [];
  let running = false;
  let current = Promise.resolve();
  const take = () => {
    if (running) return;
    running = true;
    const t = performance.now();
    current = Promise.resolve()
      .then(probe)
      .then(
        (value) => samples.push({ t, value }),
        (error) => samples.push({ t, error: error.message }),
      )
      .finally(() => {
        running = false;
      });
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    samples,
    /** The first sample at or after `from` whose value passes `test`. */
    first(test, from = -Infinity) {
      return samples.find(
        (sample) => sample.t >= from && sample.error === undefined && test(sample.value),
      );
    },
    async stop() {
      clearInterval(timer);
      await current;
      return samples;
    },
  };
}
