import { CreateTrailCommand } from '@aws-sdk/client-cloudtrail';
import { CreateBucketCommand, DeleteBucketCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { ACCOUNT, aws, REGION } from './helpers/emulator.js';
import { sampleEvent } from './helpers/events.js';
import { invokeHandler, replayCli } from './helpers/invoke.js';
import { freshStackPerTest } from './helpers/stack.js';

/**
 * The audit alerts against the emulator: s3-bucket-deleted is the one that reads the account (DescribeTrails,
 * whose answer sets the severity); the others make no AWS call, so one of them stands for the notification
 * path. No alert ever writes: each test reads the account back to prove it.
 */
const stack = freshStackPerTest();
const env = stack.env;
const LOGS = 'example-e2e-cloudtrail-logs';
const OTHER = 'example-e2e-scratch';

const deleted = (bucket: string) =>
  sampleEvent('s3-bucket-deleted', 'alerted.delete-bucket', { requestParameters: { bucketName: bucket, Host: `s3.${REGION}.amazonaws.com` } });

async function trailDeliveringTo(bucket: string): Promise<string> {
  await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const trail = await aws.cloudTrail().send(new CreateTrailCommand({ Name: 'example-e2e-org-audit', S3BucketName: bucket, IsMultiRegionTrail: true }));
  return trail.TrailARN ?? '';
}

describe.each(['live', 'dry-run'] as const)('s3-bucket-deleted against the emulator (%s)', (mode) => {
  it("alerted CRITICAL: the deleted bucket held a trail's logs (DescribeTrails, shadow trails included), and the topic got it", async () => {
    const trailArn = await trailDeliveringTo(LOGS);
    await aws.s3.send(new DeleteBucketCommand({ Bucket: LOGS }));

    const { record } = await invokeHandler('s3-bucket-deleted', deleted(LOGS), env(mode));

    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'CRITICAL',
      actions: [],
      resources: [{ type: 'AWS::S3::Bucket', id: LOGS }],
      reason: expect.stringContaining(`it held the CloudTrail logs of ${trailArn}`),
      notification: { status: 'sent' },
    });
    expect(await stack.received()).toMatchObject([
      {
        // Subjects stay under 100 characters: a long bucket name is shortened, the account and region are kept.
        subject: expect.stringMatching(
          new RegExp(`^\\[CRITICAL\\] S3 bucket deleted \\(CloudTrail logs\\): example-e2e-cloudtrail.* in ${ACCOUNT}/${REGION}$`),
        ),
        attributes: { rule: 's3-bucket-deleted', severity: 'CRITICAL', outcome: 'alerted', account: ACCOUNT },
      },
    ]);
  });

  it('alerted LOW: a bucket no trail delivers to', async () => {
    await trailDeliveringTo(LOGS);
    await aws.s3.send(new CreateBucketCommand({ Bucket: OTHER }));
    await aws.s3.send(new DeleteBucketCommand({ Bucket: OTHER }));

    const { record } = await invokeHandler('s3-bucket-deleted', deleted(OTHER), env(mode));

    expect(record).toMatchObject({ outcome: 'alerted', severity: 'LOW', reason: expect.stringContaining('it held no CloudTrail logs of this account') });
  });

  it('failed, and said so: an event whose request names no bucket is refused before any call', async () => {
    const broken = sampleEvent('s3-bucket-deleted', 'alerted.delete-bucket', { requestParameters: { Host: `s3.${REGION}.amazonaws.com` } });

    const { record } = await invokeHandler('s3-bucket-deleted', broken, env(mode));

    expect(record).toMatchObject({ outcome: 'failed', error: { kind: 'parse' }, reason: expect.stringContaining('detail.requestParameters.bucketName') });
    expect(await stack.received()).toMatchObject([{ attributes: { rule: 's3-bucket-deleted', outcome: 'failed' } }]);
  });
});

describe('a notify-only alert against the emulator', () => {
  it('kms-key-deletion through the replay CLI (live): alerted HIGH, notified once, nothing written', async () => {
    const event = sampleEvent('kms-key-deletion', 'alerted.schedule-key-deletion');

    const { exit, records } = await replayCli(event, env('live'));

    expect(exit).toBe(0);
    expect(records).toMatchObject([{ rule: 'kms-key-deletion', outcome: 'alerted', severity: 'HIGH', actions: [], notification: { status: 'sent' } }]);
    expect(await stack.received()).toMatchObject([{ attributes: { rule: 'kms-key-deletion', severity: 'HIGH', outcome: 'alerted', account: ACCOUNT } }]);
  });

  it('console-signin-failures counts in the real state table: the fifth failure alerts, once per window', async () => {
    const failures = Array.from({ length: 6 }, () => sampleEvent('console-signin-failures', 'alerted.failure-iam-user'));
    const outcomes: string[] = [];
    for (const event of failures) outcomes.push((await invokeHandler('console-signin-failures', event, env('live'))).record.outcome);

    expect(outcomes.filter((o) => o === 'alerted')).toHaveLength(1);
    expect(outcomes[4]).toBe('alerted');
    expect(await stack.received()).toMatchObject([{ attributes: { rule: 'console-signin-failures', outcome: 'alerted' } }]);
  });
});
