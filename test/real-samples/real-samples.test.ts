import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventsIn } from '../../cli/inputs.js';
import { routeEvent } from '../../cli/replay.js';
import { RULES } from '../../functions/rules.js';
import { OUTCOMES } from '../../shared/remediation-log.js';
import { capturingDeps } from '../helpers/samples.js';

// Real records captured from real accounts (../shared/cloudtrail-samples, beside the checkout in this
// workplace and in CI). vitest.config.ts includes this file only where that folder exists. The records are
// read in place, never copied into the repository.
const REAL_SAMPLES_DIR = join(import.meta.dirname, '..', '..', '..', 'shared', 'cloudtrail-samples');
const files = readdirSync(REAL_SAMPLES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

async function outcomesOf(file: string) {
  const deps = capturingDeps({ mode: 'offline' });
  const items = [...eventsIn(JSON.parse(readFileSync(join(REAL_SAMPLES_DIR, file), 'utf8')), file)];
  const records = [];
  for (const item of items) {
    expect(item.kind, `${file} is readable`).toBe('event');
    if (item.kind === 'event') records.push(...(await routeEvent(RULES, item.value, deps)));
  }
  return records;
}

describe('real CloudTrail records, offline', () => {
  it.each(files)('%s ends in exactly one known outcome per matching rule, and never crashes', async (file) => {
    const records = await outcomesOf(file);
    expect(records.length).toBeGreaterThan(0);
    for (const record of records) {
      expect(OUTCOMES).toContain(record.outcome);
      expect(record.reason.length).toBeGreaterThan(0);
      // Nothing in the real set is malformed for the envelope schema: failures here would be parser bugs.
      expect(record.error?.kind, `${file}: ${record.reason}`).not.toBe('internal');
    }
  });

  it.each([
    // public-bucket acts; outside-bucket-policy leaves a public statement to it (compliant).
    ['s3-PutBucketPolicy-principal-star-records-file.json', ['would-remediate', 'compliant']],
    ['s3-PutBucketPublicAccessBlock-flags-false-envelope.json', 'would-remediate'],
    ['s3-DeleteBucketPublicAccessBlock-assumed-role.json', 'would-remediate'],
    ['s3-PutBucketAcl-canned-private.json', 'compliant'],
    ['s3-PutBucketPolicy-service-principal.json', ['compliant', 'compliant']],
    // public-bucket finds it private; root-activity alerts: a root console session made the call.
    ['s3-CreateBucket-root-console-envelope.json', ['compliant', 'alerted']],
    // public-bucket ignores a failed call; denied-calls-burst counts the denial (reported LOW: replay has no store).
    ['s3-DeleteBucketPublicAccessBlock-error-iam-user.json', ['ignored', 'alerted']],
    ['sts-AssumeRole-aws-service-identity-irrelevant.json', 'ignored'],
  ])('%s is %s', async (file, outcome) => {
    const records = await outcomesOf(file);
    expect(records.map((r) => r.outcome)).toEqual([outcome].flat());
  });

  it('leaves the redacted envelopes (source "...") to no rule: a forged-looking source never triggers', async () => {
    const records = await outcomesOf('s3-PutBucketAcl-allusers-grant-list-envelope.json');
    expect(records).toMatchObject([{ rule: null, outcome: 'ignored' }]);
  });
});
