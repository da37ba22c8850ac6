// Every package and app has its own vitest.config.ts (its own globalSetup and
// timeouts); this file makes `vitest run` at the root drive all of them.
export default ['packages/*/vitest.config.ts', 'apps/*/vitest.config.ts'];
