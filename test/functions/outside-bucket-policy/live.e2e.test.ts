import { CreateBucketCommand, PutBucketPolicyCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { bucketPolicyText } from '../../../shared/actions/s3-bucket-policy.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { ACCOUNT, ENDPOINT, REGION } from '../../e2e/helpers/emulator.js';
import { sampleEvent } from '../../e2e/helpers/events.js';
import { invokeHandler } from '../../e2e/helpers/invoke.js';
import { freshStackPerTest } from '../../e2e/helpers/stack.js';
import { reverseRecord } from '../../e2e/helpers/reverse.js';

const stack = freshStackPerTest();
const env = stack.env;
const s3 = new S3Client({
  region: REGION,
  endpoint: ENDPOINT,
  forcePathStyle: true,
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'testing', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'testing' },
  maxAttempts: 1,
});
const OUTSIDE = '444455556666';
const REMEDIATE = { 'outside-bucket-policy': { remediate: true } };
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
const policy = (...Statement: unknown[]) => ({ Version: '2012-10-17', Statement });
const grant = (bucket: string, Sid: string, aws: string) => ({
  Sid,
  Effect: 'Allow',
  Principal: { AWS: aws },
  Action: 's3:GetObject',
  Resource: `arn:aws:s3:::${bucket}/*`,
});
const now = async (bucket: string) => {
  const text = await bucketPolicyText(s3, bucket, ACCOUNT);
  return text === null ? null : (JSON.parse(text) as unknown);
};

async function newBucket(document: (bucket: string) => unknown): Promise<{ bucket: string; put: unknown }> {
  const bucket = unique('e2e-policy');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const put = document(bucket);
  await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(put) }));
  return { bucket, put };
}

const putEvent = (bucket: string, put: unknown) =>
  sampleEvent('outside-bucket-policy', 'would-remediate.put-bucket-policy-outside-account', {
    requestParameters: { bucketName: bucket, host: [`${bucket}.s3.${REGION}.amazonaws.com`], policy: [''], bucketPolicy: put },
  });

const reverse = (record: RemediationRecord) => reverseRecord(record, { s3 });

describe('outside-bucket-policy against the emulator', () => {
  it('live: drops the outside statement, keeps the own one, reads back, and the reversal puts it back', async () => {
    const { bucket, put } = await newBucket((b) =>
      policy(grant(b, 'Own', `arn:aws:iam::${ACCOUNT}:root`), grant(b, 'Partner', `arn:aws:iam::${OUTSIDE}:root`)),
    );

    const { record } = await invokeHandler('outside-bucket-policy', putEvent(bucket, put), env('live', { rules: REMEDIATE }));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'HIGH',
      finding: 'policy-outside',
      actions: [{ api: 'S3.PutBucketPolicy', status: 'done', params: { Bucket: bucket, ExpectedBucketOwner: ACCOUNT }, verification: { ok: true } }],
      notification: { status: 'sent' },
    });
    expect(await now(bucket)).toEqual(policy(grant(bucket, 'Own', `arn:aws:iam::${ACCOUNT}:root`)));
    expect(await stack.received()).toMatchObject([{ attributes: { rule: 'outside-bucket-policy', outcome: 'remediated', account: ACCOUNT } }]);

    await reverse(record);
    expect(await now(bucket)).toEqual(put);
  });

  it('live: deletes the policy when only outside was granted, and the reversal puts it back', async () => {
    const { bucket, put } = await newBucket((b) => policy(grant(b, 'Partner', OUTSIDE)));

    const { record } = await invokeHandler('outside-bucket-policy', putEvent(bucket, put), env('live', { rules: REMEDIATE }));

    expect(record).toMatchObject({ outcome: 'remediated', actions: [{ api: 'S3.DeleteBucketPolicy', status: 'done', verification: { ok: true } }] });
    expect(await now(bucket)).toBeNull();
    await reverse(record);
    expect(await now(bucket)).toEqual(put);
  });

  it('dry-run: plans the put and changes nothing', async () => {
    const { bucket, put } = await newBucket((b) => policy(grant(b, 'Partner', OUTSIDE)));

    const { record } = await invokeHandler('outside-bucket-policy', putEvent(bucket, put), env('dry-run', { rules: REMEDIATE }));

    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ status: 'planned' }] });
    expect(await now(bucket)).toEqual(put);
  });

  it('live, remediate off (the default): alerts with the command and changes nothing', async () => {
    const { bucket, put } = await newBucket((b) => policy(grant(b, 'Partner', OUTSIDE)));

    const { record } = await invokeHandler('outside-bucket-policy', putEvent(bucket, put), env('live'));

    expect(record).toMatchObject({ outcome: 'alerted', actions: [] });
    expect(record.reason).toContain('aws s3api delete-bucket-policy');
    expect(await now(bucket)).toEqual(put);
  });
});
