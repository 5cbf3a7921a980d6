import { CloudTrailClient, CreateTrailCommand } from '@aws-sdk/client-cloudtrail';
import { CreateBucketCommand, PutBucketLifecycleConfigurationCommand, S3Client, type LifecycleRule } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { bucketLifecycleRules } from '../../../shared/actions/s3-bucket-lifecycle.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { ACCOUNT, ENDPOINT, REGION } from '../../e2e/helpers/emulator.js';
import { sampleEvent } from '../../e2e/helpers/events.js';
import { invokeHandler } from '../../e2e/helpers/invoke.js';
import { freshStackPerTest } from '../../e2e/helpers/stack.js';
import { reverseRecord } from '../../e2e/helpers/reverse.js';

const stack = freshStackPerTest();
const env = stack.env;
const RULE = 'trail-bucket-lifecycle';
const credentials = { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'testing', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'testing' };
const s3 = new S3Client({ region: REGION, endpoint: ENDPOINT, forcePathStyle: true, credentials, maxAttempts: 1 });
const cloudTrail = new CloudTrailClient({ region: REGION, endpoint: ENDPOINT, credentials, maxAttempts: 1 });
const REMEDIATE = { [RULE]: { remediate: true } };
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;

const SHORT: LifecycleRule = { ID: 'nuke-logs', Status: 'Enabled', Filter: { Prefix: 'audit/AWSLogs/' }, Expiration: { Days: 1 } };
const KEEP: LifecycleRule = {
  ID: 'archive',
  Status: 'Enabled',
  Filter: { And: { Prefix: 'audit/', Tags: [{ Key: 'tier', Value: 'cold' }] } },
  Transitions: [{ Days: 90, StorageClass: 'GLACIER' }],
  NoncurrentVersionExpiration: { NoncurrentDays: 400 },
};

/** A bucket with these rules; with a trail writing to it under the key prefix `audit` unless `trail` is false. */
async function newBucket(rules: LifecycleRule[], trail = true): Promise<string> {
  const bucket = unique('e2e-lifecycle');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules } }));
  if (trail) await cloudTrail.send(new CreateTrailCommand({ Name: unique('e2e-trail'), S3BucketName: bucket, S3KeyPrefix: 'audit' }));
  return bucket;
}

/** The event of the put that just happened (the short rule, as CloudTrail logs it). */
const putEvent = (bucket: string) =>
  sampleEvent(RULE, 'would-remediate.put-bucket-lifecycle-one-day', {
    requestParameters: {
      bucketName: bucket,
      Host: `${bucket}.s3.${REGION}.amazonaws.com`,
      lifecycle: '',
      LifecycleConfiguration: { Rule: { ID: 'nuke-logs', Status: 'Enabled', Filter: { Prefix: 'audit/AWSLogs/' }, Expiration: { Days: '1' } } },
    },
  });

const ids = async (bucket: string) => (await bucketLifecycleRules(s3, bucket, ACCOUNT))?.map((rule) => rule.ID).sort() ?? null;

const reverse = (record: RemediationRecord) => reverseRecord(record, { s3 });

describe('trail-bucket-lifecycle against the emulator', () => {
  it('live: drops the short rule of a trail bucket, keeps the other as it was, reads back, and the reversal puts it back', async () => {
    const bucket = await newBucket([SHORT, KEEP]);

    const { record } = await invokeHandler(RULE, putEvent(bucket), env('live', { rules: REMEDIATE }));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'HIGH',
      finding: 'lifecycle-short',
      actions: [
        { api: 'S3.PutBucketLifecycleConfiguration', status: 'done', params: { Bucket: bucket, ExpectedBucketOwner: ACCOUNT }, verification: { ok: true } },
      ],
      notification: { status: 'sent' },
    });
    expect(await bucketLifecycleRules(s3, bucket, ACCOUNT)).toEqual([KEEP]);
    expect(await stack.received()).toMatchObject([{ attributes: { rule: RULE, outcome: 'remediated', account: ACCOUNT } }]);

    await reverse(record);
    expect(await ids(bucket)).toEqual(['archive', 'nuke-logs']);
  });

  it('live: deletes the configuration when its one rule is short, and the reversal puts it back', async () => {
    const bucket = await newBucket([SHORT]);

    const { record } = await invokeHandler(RULE, putEvent(bucket), env('live', { rules: REMEDIATE }));

    expect(record).toMatchObject({ outcome: 'remediated', actions: [{ api: 'S3.DeleteBucketLifecycle', status: 'done', verification: { ok: true } }] });
    expect(await ids(bucket)).toBeNull();
    await reverse(record);
    expect(await bucketLifecycleRules(s3, bucket, ACCOUNT)).toEqual([SHORT]);
  });

  it('dry-run: plans the delete and changes nothing', async () => {
    const bucket = await newBucket([SHORT]);

    const { record } = await invokeHandler(RULE, putEvent(bucket), env('dry-run', { rules: REMEDIATE }));

    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ status: 'planned' }] });
    expect(await ids(bucket)).toEqual(['nuke-logs']);
  });

  it('live, remediate off (the default): alerts with the command and changes nothing', async () => {
    const bucket = await newBucket([SHORT, KEEP]);

    const { record } = await invokeHandler(RULE, putEvent(bucket), env('live'));

    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', actions: [] });
    expect(record.reason).toContain(`aws s3api put-bucket-lifecycle-configuration --region '${REGION}' --bucket '${bucket}'`);
    expect(await ids(bucket)).toEqual(['archive', 'nuke-logs']);
  });

  it('live: a bucket no trail writes to is compliant, its lifecycle left alone', async () => {
    const bucket = await newBucket([SHORT], false);

    const { record } = await invokeHandler(RULE, putEvent(bucket), env('live', { rules: REMEDIATE }));

    expect(record).toMatchObject({ outcome: 'compliant', actions: [] });
    expect(await ids(bucket)).toEqual(['nuke-logs']);
  });
});
