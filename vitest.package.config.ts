import { defineConfig } from 'vitest/config';

// `npm run test:package`: the tests that run `serverless package` (test/template) or bundle with esbuild
// (test/build), 20-60 s per packaging on a 2-core machine. Not part of `npm test`; `.ci/run` runs them.
// One file: `npm run test:package -- test/template/names.test.ts`.
export default defineConfig({
  test: {
    include: ['test/template/**/*.test.ts', 'test/build/**/*.test.ts'],
    setupFiles: ['test/helpers/setup.ts'],
    testTimeout: 20_000,
    // A file's packaging runs in its beforeAll, and waits for another file's packaging (test/helpers/template.ts).
    hookTimeout: 180_000,
    teardownTimeout: 10_000,
    env: { TZ: 'UTC' },
  },
});
