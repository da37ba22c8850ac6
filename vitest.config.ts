import { defineConfig } from 'vitest/config';

// Root options only; the projects are listed in vitest.workspace.ts. In CI a JSON report is
// also written so .ci/run can print a plain "N passed, N failed" line.
export default defineConfig({
  test: {
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: '.ci/test-results.json' }]]
      : ['default'],
  },
});
