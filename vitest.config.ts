import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// The real CloudTrail records live beside the checkout (../shared/cloudtrail-samples) in this workplace and
// in CI, not in the repository: their test runs where they are, and is not part of a bare clone's suite.
const REAL_SAMPLES = existsSync(new URL('../shared/cloudtrail-samples', import.meta.url));

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**', ...(REAL_SAMPLES ? [] : ['test/real-samples/**'])],
    setupFiles: ['test/helpers/setup.ts'],
    // The template test runs `serverless package` once; give it room on a 2-core machine.
    testTimeout: 20_000,
    hookTimeout: 180_000,
    env: { TZ: 'UTC' },
  },
});
