import { defineConfig } from 'vitest/config';

// Coverage thresholds per package: the v8 figures of the whole suite on Node 24 (2 Dec 2026),
// rounded down to the whole percent, so a change that drops a package below what its tests cover
// today fails `--coverage.enabled` runs (.ci/run's Node 24 line). Raise them as tests improve.
const measured = {
  health: { lines: 93, statements: 93, functions: 88, branches: 87 },
  limits: { lines: 97, statements: 97, functions: 97, branches: 91 },
  observability: { lines: 89, statements: 89, functions: 94, branches: 88 },
  queue: { lines: 97, statements: 97, functions: 98, branches: 86 },
  resilience: { lines: 97, statements: 97, functions: 93, branches: 93 },
  testing: { lines: 93, statements: 93, functions: 97, branches: 91 },
};

// Root options only; the projects are listed in vitest.workspace.ts. In CI a JSON report is
// also written so .ci/run can print a plain "N passed, N failed" line (one file per Node line:
// CI_TEST_RESULTS names it).
export default defineConfig({
  test: {
    reporters: process.env.CI
      ? [
          'default',
          ['json', { outputFile: process.env.CI_TEST_RESULTS ?? '.ci/test-results.json' }],
        ]
      : ['default'],
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      thresholds: Object.fromEntries(
        Object.entries(measured).map(([name, figures]) => [`packages/${name}/src/**`, figures]),
      ),
    },
  },
});
