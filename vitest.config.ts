import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// The real CloudTrail records live beside the checkout (../shared/cloudtrail-samples) in this workplace and
// in CI, not in the repository: their test runs where they are, and is not part of a bare clone's suite.
const REAL_SAMPLES = existsSync(new URL('../shared/cloudtrail-samples', import.meta.url));

// `npm test`: the unit suite, the edit loop. The tests that run `serverless package` or bundle with esbuild
// (test/template, test/build) take minutes: they are `npm run test:package` (vitest.package.config.ts).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [
      'test/e2e/**',
      'test/**/*.e2e.test.ts',
      'test/template/**',
      'test/build/**',
      'node_modules/**',
      ...(REAL_SAMPLES ? [] : ['test/real-samples/**']),
    ],
    // Each worker runs its files one after another in one process, so the AWS SDK (about 1 s of loading per
    // client package) loads once per worker instead of once per file; fresh-file.ts gives every file fresh
    // modules of our own and no mock, stub or fake timer left by the file before.
    isolate: false,
    setupFiles: ['test/helpers/fresh-file.ts', 'test/helpers/setup.ts'],
    // Every test, hook and teardown ends: a hang fails the run instead of stalling it (child processes time out too).
    testTimeout: 20_000,
    hookTimeout: 20_000,
    teardownTimeout: 10_000,
    env: { TZ: 'UTC' },
  },
});
