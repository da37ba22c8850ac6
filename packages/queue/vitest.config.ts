import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'queue',
    include: ['test/**/*.test.ts'],
    globalSetup: ['@bulwark/testing/global-setup'],
    typecheck: { enabled: true, include: ['test/types/**/*.test-d.ts'] },
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
