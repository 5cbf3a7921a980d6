import { GetBucketAclCommand, GetBucketPolicyStatusCommand, GetPublicAccessBlockCommand, PutPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publicBucket } from '../../../functions/public-bucket/rule.js';
import { lambdaRunner } from '../../../shared/runner/lambda.js';
import { ALL_BLOCKED } from '../../../shared/s3/public-access.js';
import { capturingDeps, loadSample, runSample } from '../../helpers/samples.js';

const s3 = mockClient(S3Client);
const NONE_SET = Object.assign(new Error('The public access block configuration was not found'), { name: 'NoSuchPublicAccessBlockConfiguration' });
const BLOCKED = { PublicAccessBlockConfiguration: ALL_BLOCKED };

beforeEach(() => {
  s3.reset();
  s3.rejects(new Error('unexpected S3 call')); // unmocked calls fail loudly
});
afterEach(() => s3.reset());

describe('public-bucket live', () => {
  it('blocks public access and confirms it by reading it back', async () => {
    s3.on(GetPublicAccessBlockCommand).rejectsOnce(NONE_SET).resolves(BLOCKED);
    s3.on(GetBucketPolicyStatusCommand).resolves({ PolicyStatus: { IsPublic: false } });
    s3.on(GetBucketAclCommand).resolves({
      Grants: [{ Grantee: { Type: 'Group', URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' }],
    });
    s3.on(PutPublicAccessBlockCommand).resolves({});

    const { record, deps } = await runSample(publicBucket, 'would-remediate.put-bucket-acl-canned-public-read', { mode: 'live' });

    expect(s3).toHaveReceivedCommandTimes(PutPublicAccessBlockCommand, 1);
    expect(s3).toHaveReceivedCommandWith(PutPublicAccessBlockCommand, {
      Bucket: 'example-reports',
      PublicAccessBlockConfiguration: ALL_BLOCKED,
      ExpectedBucketOwner: '111122223333',
    });
    expect(s3).toHaveReceivedCommandTimes(GetPublicAccessBlockCommand, 2); // inspect + verify
    expect(record).toMatchObject({
      outcome: 'remediated',
      mode: 'live',
      actions: [{ api: 'S3.PutPublicAccessBlock', status: 'done', previous: { PublicAccessBlockConfiguration: null }, verification: { ok: true } }],
      notification: { status: 'sent', messageId: 'message-1' },
    });
    expect(deps.written).toEqual([record]);
    expect(deps.published[0]).toMatchObject({
      subject: '[HIGH] Public access blocked on S3 bucket example-reports in 111122223333/eu-west-1',
      attributes: { rule: 'public-bucket', severity: 'HIGH', outcome: 'remediated', account: '111122223333' },
    });
    // Complete, as report and undo print it: the Region and the owner pin (issue 16: the notification lacked both).
    expect(deps.published[0]?.text).toContain(
      "To reverse: aws s3api delete-public-access-block --region 'eu-west-1' --bucket 'example-reports' --expected-bucket-owner '111122223333'\n",
    );
  });

  it('reads only the block for a weakening call, and records the block it replaced', async () => {
    const weakened = { ...ALL_BLOCKED, BlockPublicAcls: false, BlockPublicPolicy: false };
    s3.on(GetPublicAccessBlockCommand).resolvesOnce({ PublicAccessBlockConfiguration: weakened }).resolves(BLOCKED);
    s3.on(PutPublicAccessBlockCommand).resolves({});

    const { record } = await runSample(publicBucket, 'would-remediate.put-public-access-block-flags-false', { mode: 'live' });

    expect(record.outcome).toBe('remediated');
    expect(record.actions[0]?.previous).toEqual({ PublicAccessBlockConfiguration: weakened });
    expect(s3).toHaveReceivedCommandTimes(GetBucketPolicyStatusCommand, 0);
    expect(s3).toHaveReceivedCommandTimes(GetBucketAclCommand, 0);
  });

  it('does nothing for a stale event whose bucket is already fully blocked', async () => {
    s3.on(GetPublicAccessBlockCommand).resolves(BLOCKED);

    const { record, deps } = await runSample(publicBucket, 'would-remediate.delete-public-access-block', { mode: 'live' });

    expect(s3).toHaveReceivedCommandTimes(GetPublicAccessBlockCommand, 1);
    expect(s3).toHaveReceivedCommandTimes(PutPublicAccessBlockCommand, 0);
    expect(record).toMatchObject({ outcome: 'compliant', notification: { status: 'not-needed' } });
    expect(deps.published).toEqual([]);
  });

  it('ignores a bucket that no longer exists, with that reason', async () => {
    s3.on(GetPublicAccessBlockCommand).rejects(Object.assign(new Error('The specified bucket does not exist'), { name: 'NoSuchBucket' }));

    const { record } = await runSample(publicBucket, 'would-remediate.delete-public-access-block', { mode: 'live' });

    expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('no longer exists (NoSuchBucket') });
    expect(s3).toHaveReceivedCommandTimes(PutPublicAccessBlockCommand, 0);
  });

  it('fails with the missing permission named when the put is denied, and alerts', async () => {
    s3.on(GetPublicAccessBlockCommand).rejects(NONE_SET);
    s3.on(PutPublicAccessBlockCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));

    const { record, deps } = await runSample(publicBucket, 'would-remediate.delete-public-access-block', { mode: 'live' });

    expect(record).toMatchObject({
      outcome: 'failed',
      actions: [{ status: 'failed', error: 'denied: AccessDenied' }],
      error: { kind: 'denied', permission: 's3:PutBucketPublicAccessBlock' },
    });
    expect(deps.published[0]?.subject).toMatch(/^\[HIGH\] FAILED to block public access on S3 bucket example-corporate-docs/);
  });

  it('reports a put that did not stick as failed, never remediated', async () => {
    const stillOff = { ...ALL_BLOCKED, RestrictPublicBuckets: false };
    s3.on(GetPublicAccessBlockCommand).resolves({ PublicAccessBlockConfiguration: stillOff });
    s3.on(PutPublicAccessBlockCommand).resolves({});

    const { record } = await runSample(publicBucket, 'would-remediate.delete-public-access-block', { mode: 'live' });

    expect(s3).toHaveReceivedCommandTimes(PutPublicAccessBlockCommand, 1);
    expect(record).toMatchObject({
      outcome: 'failed',
      reason: expect.stringContaining('verification failed'),
      actions: [{ status: 'done', verification: { ok: false, detail: 'read back with RestrictPublicBuckets still off' } }],
    });
  });

  it('throws from the Lambda handler on throttling so EventBridge retries, after writing the record', async () => {
    s3.on(GetPublicAccessBlockCommand).rejects(Object.assign(new Error('Slow down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }));
    const deps = capturingDeps({ mode: 'live' });
    const handler = lambdaRunner(publicBucket, () => deps);

    await expect(handler(loadSample('public-bucket', 'would-remediate.delete-public-access-block'))).rejects.toThrow(/SlowDown/);

    expect(deps.written).toHaveLength(1);
    expect(deps.written[0]).toMatchObject({ outcome: 'failed', error: { kind: 'transient' }, notification: { status: 'deferred' } });
    expect(deps.published).toEqual([]);
  });
});

describe('public-bucket dry-run and offline', () => {
  it('dry-run reads the bucket and reports, writing nothing', async () => {
    s3.on(GetPublicAccessBlockCommand).rejects(NONE_SET);
    s3.on(GetBucketPolicyStatusCommand).resolves({ PolicyStatus: { IsPublic: true } });
    s3.on(GetBucketAclCommand).resolves({ Grants: [] });

    const { record, deps } = await runSample(publicBucket, 'would-remediate.put-bucket-policy-principal-star', { mode: 'dry-run' });

    expect(s3).toHaveReceivedCommandTimes(GetBucketPolicyStatusCommand, 1);
    expect(s3).toHaveReceivedCommandTimes(PutPublicAccessBlockCommand, 0);
    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ status: 'planned' }] });
    expect(deps.published[0]?.subject).toMatch(/^\[HIGH\] Would block public access on S3 bucket example-website/);
  });

  it('offline makes no AWS call at all', async () => {
    const { record } = await runSample(publicBucket, 'would-remediate.put-bucket-policy-principal-star', { mode: 'offline' });

    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ status: 'planned', params: { Bucket: 'example-website' } }] });
    expect(s3.calls()).toHaveLength(0);
  });
});
