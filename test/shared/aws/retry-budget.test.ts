import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ATTEMPT_TIMEOUT_MS, MAX_ATTEMPTS, WORST_CASE_CALL_MS } from '../../../shared/aws/client-options.js';
import { DEADLINE_MARGIN_MS } from '../../../shared/runner/deadline.js';
import { SNS_THROTTLING_BACKOFF_BASE_MS, SNS_WORST_CASE_CALL_MS } from '../../../shared/aws/sns.js';

// Issue 22, item 5: the function timeout and the SDK's retry budget are set in two places; this holds them together.
const ROOT = join(import.meta.dirname, '..', '..', '..');
const providerTimeout = (parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8')) as { provider: { timeout: number } }).provider.timeout;
const functionFiles = readdirSync(join(ROOT, 'functions'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .flatMap((entry) => ['function.yml', 'sweep.yml'].map((file) => join(ROOT, 'functions', entry.name, file)))
  .filter((path) => existsSync(path));
const timeouts = functionFiles.flatMap((path) =>
  Object.entries(parse(readFileSync(path, 'utf8')) as Record<string, { timeout?: number }>).map(([name, fn]) => [name, fn.timeout ?? providerTimeout] as const),
);

describe('the function timeout and the retry budget', () => {
  it('sizes the worst case of one AWS call from the client settings: 4 attempts x 4 s + 1 + 2 + 4 s of backoff', () => {
    expect(MAX_ATTEMPTS).toBe(4);
    expect(ATTEMPT_TIMEOUT_MS).toBe(4_000);
    expect(WORST_CASE_CALL_MS).toBe(23_000);
  });

  it("keeps a Publish within the same budget: its own retry strategy backs off no longer than the SDK's", () => {
    expect(SNS_THROTTLING_BACKOFF_BASE_MS).toBe(1_000);
    expect(SNS_WORST_CASE_CALL_MS).toBe(23_000);
    expect(SNS_WORST_CASE_CALL_MS).toBeLessThanOrEqual(WORST_CASE_CALL_MS);
  });

  it('gives every function room for one worst-case call before its deadline, and the margin after it', () => {
    expect(providerTimeout).toBe(30);
    expect(timeouts.length).toBeGreaterThanOrEqual(16);
    for (const [name, seconds] of timeouts) {
      expect(seconds * 1000 - DEADLINE_MARGIN_MS, name).toBeGreaterThanOrEqual(WORST_CASE_CALL_MS);
    }
  });
});
