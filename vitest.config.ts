import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    setupFiles: ['test/helpers/setup.ts'],
    // The template test runs `serverless package` once; give it room on a 2-core machine.
    testTimeout: 20_000,
    hookTimeout: 180_000,
    env: { TZ: 'UTC' },
  },
});
