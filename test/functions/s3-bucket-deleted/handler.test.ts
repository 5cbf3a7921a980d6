import { CloudTrailClient, DescribeTrailsCommand } from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { s3BucketDeleted } from '../../../functions/s3-bucket-deleted/rule.js';
import { runSample } from '../../helpers/samples.js';

const cloudTrail = mockClient(CloudTrailClient);
afterEach(() => cloudTrail.reset());
afterAll(() => cloudTrail.restore());

const TRAILS = {
  trailList: [
    { Name: 'org-trail', TrailARN: 'arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail', S3BucketName: 'aws-cloudtrail-logs-111122223333-0a1b2c3d' },
    { Name: 'data-events', TrailARN: 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/data-events', S3BucketName: 'example-data-event-logs' },
  ],
};

describe('s3-bucket-deleted', () => {
  it('is CRITICAL when the deleted bucket is a trail\'s S3BucketName, naming the trail', async () => {
    cloudTrail.onAnyCommand().rejects(new Error('unexpected CloudTrail call'));
    cloudTrail.on(DescribeTrailsCommand, { includeShadowTrails: true }).resolves(TRAILS);
    const { record, deps } = await runSample(s3BucketDeleted, 'alerted.delete-cloudtrail-bucket', { mode: 'live' });
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'CRITICAL', reason: expect.stringContaining('held the CloudTrail logs of arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail') });
    expect(deps.published[0]?.subject).toContain('S3 bucket deleted (CloudTrail logs)');
    expect(cloudTrail).toHaveReceivedCommandTimes(DescribeTrailsCommand, 1);
  });

  it('is LOW, saying it held no CloudTrail logs, for any other bucket; dry-run reads the same way', async () => {
    cloudTrail.onAnyCommand().rejects(new Error('unexpected CloudTrail call'));
    cloudTrail.on(DescribeTrailsCommand).resolves(TRAILS);
    const { record } = await runSample(s3BucketDeleted, 'alerted.delete-bucket', { mode: 'dry-run' });
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'LOW', reason: expect.stringContaining('held no CloudTrail logs of this account (no trail seen from eu-west-1') });
    expect(cloudTrail).toHaveReceivedCommandTimes(DescribeTrailsCommand, 1);
  });

  it('says offline that it could not check, without any call', async () => {
    cloudTrail.onAnyCommand().rejects(new Error('unexpected CloudTrail call'));
    const { record } = await runSample(s3BucketDeleted, 'alerted.delete-cloudtrail-bucket');
    expect(record).toMatchObject({ severity: 'MEDIUM', reason: expect.stringContaining('could not be checked (offline') });
    expect(cloudTrail.calls()).toHaveLength(0);
  });

  it('still alerts (HIGH) when DescribeTrails is denied, naming the bucket, the error and the permission', async () => {
    cloudTrail.onAnyCommand().rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));
    const { record, deps } = await runSample(s3BucketDeleted, 'alerted.delete-bucket', { mode: 'live' });
    expect(record).toMatchObject({
      outcome: 'alerted', severity: 'HIGH', error: null,
      resources: [{ type: 'AWS::S3::Bucket', id: 'example-build-artifacts' }],
      reason: expect.stringContaining('could not be checked: CloudTrail.DescribeTrails was denied (AccessDeniedException): the role needs cloudtrail:DescribeTrails'),
    });
    expect(deps.published).toHaveLength(1);
    expect(deps.published[0]?.subject).toContain('S3 bucket deleted: example-build-artifacts');
    expect(deps.published[0]?.text).toContain('aws cloudtrail describe-trails --include-shadow-trails');
    expect(cloudTrail).toHaveReceivedCommandTimes(DescribeTrailsCommand, 1);
  });

  it('still alerts (HIGH) naming the bucket when DescribeTrails is refused as invalid', async () => {
    cloudTrail.onAnyCommand().rejects(Object.assign(new Error('bad'), { name: 'InvalidParameterCombinationException', $metadata: { httpStatusCode: 400 } }));
    const { record, deps } = await runSample(s3BucketDeleted, 'alerted.delete-cloudtrail-bucket', { mode: 'dry-run' });
    expect(record).toMatchObject({
      outcome: 'alerted', severity: 'HIGH', resources: [{ id: 'aws-cloudtrail-logs-111122223333-0a1b2c3d' }],
      reason: expect.stringContaining('(cloudtrail:DescribeTrails) failed: InvalidParameterCombinationException (invalid)'),
    });
    expect(deps.published).toHaveLength(1);
  });

  it('rethrows a throttled DescribeTrails so the event is retried, notifying nothing yet', async () => {
    cloudTrail.onAnyCommand().rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
    const { record, deps } = await runSample(s3BucketDeleted, 'alerted.delete-bucket', { mode: 'live' });
    expect(record).toMatchObject({ outcome: 'failed', error: { kind: 'transient', code: 'ThrottlingException' }, notification: { status: 'deferred' } });
    expect(deps.published).toEqual([]);
    expect(cloudTrail).toHaveReceivedCommandTimes(DescribeTrailsCommand, 1);
  });

  it('calls a failed DeleteBucket compliant: nothing was deleted', async () => {
    cloudTrail.onAnyCommand().rejects(new Error('unexpected CloudTrail call'));
    const { record } = await runSample(s3BucketDeleted, 'compliant.delete-bucket-not-empty', { mode: 'live' });
    expect(record).toMatchObject({ outcome: 'compliant', reason: expect.stringContaining('(BucketNotEmpty): no bucket was deleted') });
    expect(cloudTrail.calls()).toHaveLength(0);
  });
});
