import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'api',
    include: ['test/**/*.test.ts'],
    globalSetup: ['@bulwark/testing/global-setup'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
