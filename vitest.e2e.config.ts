import { defineConfig } from 'vitest/config';

// End-to-end tests: the real handlers and CLI against an AWS-compatible endpoint (../shared/emulator, moto
// server). Not part of `npm test`; run with `npm run test:e2e` once a moto server answers on MOTO_PORT (5000 when
// unset) or at AWS_ENDPOINT_URL (test/e2e/global-setup.ts).
export default defineConfig({
  test: {
    // A rule's own end-to-end tests live in its test folder (test/rule-places.test.ts), beside its unit tests.
    include: ['test/e2e/**/*.e2e.test.ts', 'test/functions/**/*.e2e.test.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    setupFiles: ['test/helpers/setup.ts'],
    // One emulator, reset before every test: files run one after another.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    teardownTimeout: 30_000,
    env: { TZ: 'UTC' },
  },
});
