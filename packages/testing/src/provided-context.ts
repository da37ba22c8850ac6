// Types what the harness's global setup provides, for `inject()` in any project's tests.
import type {} from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `redis://127.0.0.1:<port>` of the redis-server this test run owns. */
    redisUrl: string;
    /** Connection string of the fresh database this test run owns. */
    databaseUrl: string;
  }
}
