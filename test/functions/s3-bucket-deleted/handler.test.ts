import { CloudTrailClient, DescribeTrailsCommand } from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FINDINGS, s3BucketDeleted } from '../../../functions/s3-bucket-deleted/rule.js';
import { record as recordOf } from '../../helpers/records.js';
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
  it("is CRITICAL when the deleted bucket is a trail's S3BucketName, naming the trail", async () => {
    cloudTrail.onAnyCommand().rejects(new Error('unexpected CloudTrail call'));
    cloudTrail.on(DescribeTrailsCommand, { includeShadowTrails: true }).resolves(TRAILS);
    const { record, deps } = await runSample(s3BucketDeleted, 'alerted.delete-cloudtrail-bucket', { mode: 'live' });
    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'CRITICAL',
      reason: expect.stringContaining('held the CloudTrail logs of arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail'),
    });
    expect(deps.published[0]?.subject).toContain('S3 bucket deleted (CloudTrail logs)');
    expect(cloudTrail).toHaveReceivedCommandTimes(DescribeTrailsCommand, 1);
  });

  it('is LOW, saying it held no CloudTrail logs, for any other bucket; dry-run reads the same way', async () => {
    cloudTrail.onAnyCommand().rejects(new Error('unexpected CloudTrail call'));
    cloudTrail.on(DescribeTrailsCommand).resolves(TRAILS);
    const { record } = await runSample(s3BucketDeleted, 'alerted.delete-bucket', { mode: 'dry-run' });
    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'LOW',
      reason: expect.stringContaining('held no CloudTrail logs of this account (no trail seen from eu-west-1'),
    });
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
      outcome: 'alerted',
      severity: 'HIGH',
      error: null,
      resources: [{ type: 'AWS::S3::Bucket', id: 'example-build-artifacts' }],
      reason: expect.stringContaining(
        'could not be checked: CloudTrail.DescribeTrails was denied (AccessDeniedException): the role needs cloudtrail:DescribeTrails',
      ),
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
      outcome: 'alerted',
      severity: 'HIGH',
      resources: [{ id: 'aws-cloudtrail-logs-111122223333-0a1b2c3d' }],
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

describe('s3-bucket-deleted findings', () => {
  it('sets a finding code for each kind of alert', async () => {
    cloudTrail.on(DescribeTrailsCommand).resolves(TRAILS);
    const { record: trail } = await runSample(s3BucketDeleted, 'alerted.delete-cloudtrail-bucket', { mode: 'live' });
    const { record: plain } = await runSample(s3BucketDeleted, 'alerted.delete-bucket', { mode: 'live' });
    const { record: offline } = await runSample(s3BucketDeleted, 'alerted.delete-bucket');
    cloudTrail.reset();
    cloudTrail.onAnyCommand().rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));
    const { record: denied } = await runSample(s3BucketDeleted, 'alerted.delete-bucket', { mode: 'live' });
    const kinds = [trail, plain, offline, denied];
    expect(kinds.map((r) => [r.outcome, r.finding])).toEqual([
      ['alerted', 'trail-bucket-deleted'],
      ['alerted', 'bucket-deleted'],
      ['alerted', 'bucket-deleted-unchecked'],
      ['alerted', 'trail-check-failed'],
    ]);
    expect(new Set(kinds.map((r) => r.finding))).toEqual(new Set(FINDINGS));
  });

  it('titles and advises by the finding, not the reason or the severity', () => {
    const message = (finding: string, severity: 'CRITICAL' | 'LOW') =>
      s3BucketDeleted.message(
        recordOf({
          rule: 's3-bucket-deleted',
          outcome: 'alerted',
          severity,
          eventName: 'DeleteBucket',
          finding,
          resources: [{ type: 'AWS::S3::Bucket', id: 'example-build-artifacts' }],
          // The words the old check looked for ("CloudTrail.DescribeTrails "), in a reason of a checked bucket.
          reason: 'S3 bucket example-build-artifacts was deleted; CloudTrail.DescribeTrails found no trail delivering to it',
        }),
      );
    const plain = message('bucket-deleted', 'CRITICAL');
    expect(plain.title).toBe('S3 bucket deleted: example-build-artifacts');
    expect(plain.lines.join('\n')).not.toContain('--include-shadow-trails');
    expect(plain.lines.join('\n')).not.toContain('recreate the bucket');
    const trail = message('trail-bucket-deleted', 'LOW');
    expect(trail.title).toBe('S3 bucket deleted (CloudTrail logs): example-build-artifacts');
    expect(trail.lines.join('\n')).toContain('recreate the bucket');
    expect(message('trail-check-failed', 'LOW').lines.join('\n')).toContain('aws cloudtrail describe-trails --include-shadow-trails');
  });
});
