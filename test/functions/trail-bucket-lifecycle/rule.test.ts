import { CloudTrailClient, DescribeTrailsCommand } from '@aws-sdk/client-cloudtrail';
import {
  DeleteBucketLifecycleCommand,
  GetBucketLifecycleConfigurationCommand,
  PutBucketLifecycleConfigurationCommand,
  S3Client,
  type LifecycleRule,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { trailBucketLifecycle } from '../../../functions/trail-bucket-lifecycle/rule.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, expectedOutcome, loadSample, runSample, sampleConfig, sampleNames, withDetail } from '../../helpers/samples.js';

const s3 = mockClient(S3Client);
const cloudTrail = mockClient(CloudTrailClient);
const ID = trailBucketLifecycle.id;
const TRAIL_BUCKET = 'example-trail-logs';
/** The one-day sample's bucket, named as the CloudTrail console names the buckets it makes. */
const CONSOLE_BUCKET = 'aws-cloudtrail-logs-111122223333-0a1b2c3d';
const OTHER_BUCKET = 'example-org-trail';
const OWNER = '111122223333';

beforeEach(() => {
  s3.reset();
  s3.rejects(new Error('unexpected S3 call'));
  cloudTrail.reset();
  cloudTrail.rejects(new Error('unexpected CloudTrail call'));
});
afterAll(() => {
  s3.restore();
  cloudTrail.restore();
});

const settings = (rule: Record<string, unknown>) => sampleConfig({ rules: { [ID]: rule } });
const oneDay = () => loadSample(ID, 'would-remediate.put-bucket-lifecycle-one-day');
/** The one-day sample on another bucket, with these logged rules. */
const putRules = (Rule: unknown, bucketName = OTHER_BUCKET) =>
  withDetail(oneDay(), {
    requestParameters: { bucketName, Host: `${bucketName}.s3.eu-west-1.amazonaws.com`, lifecycle: '', LifecycleConfiguration: { Rule } },
  });
const runOffline = (event: unknown, config = sampleConfig()) => run(trailBucketLifecycle, event, capturingDeps({ config }));
const runLive = (event: unknown, config = settings({ remediate: true })) => run(trailBucketLifecycle, event, capturingDeps({ config, mode: 'live' }));
const trail = (Name: string, S3BucketName: string, S3KeyPrefix?: string) => ({
  Name,
  S3BucketName,
  TrailARN: `arn:aws:cloudtrail:eu-west-1:${OWNER}:trail/${Name}`,
  ...(S3KeyPrefix ? { S3KeyPrefix } : {}),
});

describe('trail-bucket-lifecycle samples, offline', () => {
  it.each(sampleNames(ID))('%s ends as its name says', async (name) => {
    const { record } = await runSample(trailBucketLifecycle, name);
    expect(record.outcome).toBe(expectedOutcome(name));
  });
});

describe('trail-bucket-lifecycle offline', () => {
  it('deletes the configuration of a bucket named as the CloudTrail console names trail buckets, whose one rule expires logs after a day (Rule logged as an object)', async () => {
    const { record } = await runSample(trailBucketLifecycle, 'would-remediate.put-bucket-lifecycle-one-day');
    expect(record).toMatchObject({ severity: 'HIGH', finding: 'lifecycle-short' });
    expect(record.actions).toEqual([
      expect.objectContaining({ api: 'S3.DeleteBucketLifecycle', params: { Bucket: CONSOLE_BUCKET, ExpectedBucketOwner: OWNER } }),
    ]);
    expect(record.reason).toContain('"expire-trail-logs-after-1-day" (prefix "AWSLogs/") expires objects after 1 days');
  });

  it('keeps the long rule of a list, in the SDK shape (numbers logged as text, Transition as Transitions)', async () => {
    const { record } = await runSample(trailBucketLifecycle, 'would-remediate.put-bucket-lifecycle-list-short-and-long');
    expect(record.actions).toHaveLength(1);
    expect(record.actions[0]).toMatchObject({
      api: 'S3.PutBucketLifecycleConfiguration',
      params: {
        Bucket: TRAIL_BUCKET,
        ExpectedBucketOwner: OWNER,
        LifecycleConfiguration: {
          Rules: [
            {
              ID: 'archive-after-90-days',
              Status: 'Enabled',
              Filter: { Prefix: 'AWSLogs/' },
              Expiration: { Days: 2555 },
              Transitions: [{ Days: 90, StorageClass: 'GLACIER' }],
            },
          ],
        },
      },
    });
    expect(record.reason).toContain('"tidy-logs" (prefix "") expires objects after 30 days and expires noncurrent versions after 7 days');
    expect(record.reason).not.toContain('archive-after-90-days');
  });

  it('alerts MEDIUM on a bucket it cannot tell is a trail bucket, saying a tag filter does not exempt the rule', async () => {
    const { record } = await runSample(trailBucketLifecycle, 'alerted.put-bucket-lifecycle-unknown-bucket');
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'MEDIUM', finding: 'lifecycle-short-unchecked', actions: [] });
    expect(record.reason).toContain("if this bucket holds a trail's logs");
    expect(record.reason).toContain('a tag or size filter does not exempt a rule');
  });

  it('alerts HIGH by default (remediate off) with the exact command a person runs', async () => {
    const record = await runOffline(
      putRules({ ID: 'r', Status: 'Enabled', Expiration: { Days: 1 } }, TRAIL_BUCKET),
      settings({ trailBuckets: [TRAIL_BUCKET] }),
    );
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', actions: [] });
    expect(record.reason).toContain(`aws s3api delete-bucket-lifecycle --region 'eu-west-1' --bucket '${TRAIL_BUCKET}' --expected-bucket-owner '${OWNER}'`);
    // Not configured, and named like no trail bucket: MEDIUM, it cannot tell.
    expect(await runOffline(putRules({ ID: 'r', Status: 'Enabled', Expiration: { Days: 1 } }, TRAIL_BUCKET), settings({}))).toMatchObject({
      severity: 'MEDIUM',
    });
  });

  it('weighs the retention setting: 30 days is short of 365 and not of 7', async () => {
    const rule = { ID: 'month', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 30 } };
    expect((await runOffline(putRules(rule))).outcome).toBe('alerted');
    expect((await runOffline(putRules(rule), settings({ retentionDays: 7 }))).outcome).toBe('compliant');
  });

  it('judges an expiry date against the event time plus the retention', async () => {
    const on = (date: string) => putRules({ ID: 'on-a-date', Status: 'Enabled', Filter: { Prefix: 'AWSLogs/' }, Expiration: { Date: date } });
    expect((await runOffline(on('2027-01-01T00:00:00.000Z'))).outcome).toBe('alerted');
    expect((await runOffline(on('2028-01-01T00:00:00.000Z'))).outcome).toBe('compliant');
  });

  it('counts a short noncurrent-version expiry, and a legacy top-level Prefix', async () => {
    const legacy = { ID: 'old-style', Status: 'Enabled', Prefix: 'AWSLogs/111122223333/', NoncurrentVersionExpiration: { NoncurrentDays: '1' } };
    const record = await runOffline(putRules(legacy));
    expect(record.outcome).toBe('alerted');
    expect(record.reason).toContain('expires noncurrent versions after 1 days');
  });

  it.each([
    [{ ID: 'r', Status: 'Enabled', Expiration: { Days: 'soon' } }, 'LifecycleConfiguration.Rule.Expiration.Days'],
    [
      [
        { ID: 'a', Status: 'Enabled' },
        { ID: 'b', Status: 'On' },
      ],
      'LifecycleConfiguration.Rule[1].Status',
    ],
    [{ ID: 'r', Status: 'Enabled', Expiration: { Date: 'tomorrow' } }, 'LifecycleConfiguration.Rule.Expiration.Date'],
    [{ ID: 'r', Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: -1 } }, 'NoncurrentVersionExpiration.NoncurrentDays'],
  ])('refuses %j as a parse error naming %s', async (rule, field) => {
    const record = await runOffline(putRules(rule));
    expect(record.actions).toEqual([]);
    expect(record.outcome).not.toMatch(/would-remediate|compliant|alerted/);
    expect(JSON.stringify(record)).toContain(field);
  });

  it('refuses a bucket name S3 would not take, before any call', async () => {
    const event = putRules({ ID: 'r', Status: 'Enabled', Expiration: { Days: 1 } }, "x'; rm -rf /");
    const record = await runLive(event);
    expect(record.outcome).not.toMatch(/would-remediate|remediated|compliant/);
    expect(JSON.stringify(record)).toContain('bucketName');
    expect(s3.calls()).toHaveLength(0);
    expect(cloudTrail.calls()).toHaveLength(0);
  });

  it("ends trailguard's own put (long rules only, by its role) ignored, and a short put by the same role is judged", async () => {
    const ownRole = {
      type: 'AssumedRole',
      accountId: OWNER,
      arn: `arn:aws:sts::${OWNER}:assumed-role/trailguard-prod-x-role/trailguard-prod-x`,
      sessionContext: { sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${OWNER}:role/trailguard-prod-x-role`, userName: 'trailguard-prod-x-role' } },
    };
    const own = withDetail(putRules({ ID: 'keep', Status: 'Enabled', Expiration: { Days: '400' } }, TRAIL_BUCKET), { userIdentity: ownRole });
    const record = await runLive(own);
    expect(record.outcome).toBe('ignored');
    expect(s3.calls()).toHaveLength(0);
    const short = withDetail(oneDay(), { userIdentity: ownRole });
    expect((await runOffline(short)).outcome).toBe('would-remediate');
  });
});

describe('trail-bucket-lifecycle live: decided from the trails and the lifecycle now', () => {
  const rules: LifecycleRule[] = [
    { ID: 'org-logs-5-days', Status: 'Enabled', Filter: { Prefix: 'org/AWSLogs/' }, Expiration: { Days: 5 } },
    { ID: 'scratch-1-day', Status: 'Enabled', Filter: { Prefix: 'scratch/' }, Expiration: { Days: 1 } },
    { ID: 'archive', Status: 'Enabled', Filter: { Prefix: '' }, Transitions: [{ Days: 90, StorageClass: 'GLACIER' }] },
  ];

  it('drops only the rule reaching the trail’s keys (its S3KeyPrefix), keeps previous and reads back', async () => {
    cloudTrail.on(DescribeTrailsCommand).resolves({ trailList: [trail('org-trail', OTHER_BUCKET, 'org'), trail('elsewhere', 'another-bucket')] });
    const kept = rules.slice(1);
    s3.on(GetBucketLifecycleConfigurationCommand).resolvesOnce({ Rules: rules }).resolves({ Rules: kept });
    s3.on(PutBucketLifecycleConfigurationCommand).resolves({});
    const record = await runLive(putRules({ ID: 'org-logs-5-days', Status: 'Enabled', Filter: { Prefix: 'org/AWSLogs/' }, Expiration: { Days: 5 } }));
    expect(record.outcome).toBe('remediated');
    expect(record.reason).toContain(`arn:aws:cloudtrail:eu-west-1:${OWNER}:trail/org-trail`);
    expect(record.reason).not.toContain('elsewhere');
    expect(cloudTrail.commandCalls(DescribeTrailsCommand)[0]?.args[0].input).toEqual({ includeShadowTrails: true });
    expect(s3.commandCalls(PutBucketLifecycleConfigurationCommand)[0]?.args[0].input).toEqual({
      Bucket: OTHER_BUCKET,
      ExpectedBucketOwner: OWNER,
      LifecycleConfiguration: { Rules: kept },
    });
    expect(record.actions[0]?.previous).toEqual({ Rules: rules });
    expect(s3.commandCalls(GetBucketLifecycleConfigurationCommand)[0]?.args[0].input).toMatchObject({ ExpectedBucketOwner: OWNER });
  });

  it('deletes the configuration when every rule is short, and reads back none', async () => {
    cloudTrail.on(DescribeTrailsCommand).resolves({ trailList: [trail('main', OTHER_BUCKET)] });
    s3.on(GetBucketLifecycleConfigurationCommand)
      .resolvesOnce({
        Rules: [
          { ID: 'logs', Status: 'Enabled', Filter: { Prefix: 'AWSLogs/' }, Expiration: { Days: 3 } },
          { ID: 'all', Status: 'Enabled', Filter: {}, Expiration: { Days: 2 } },
        ],
      })
      .rejects(Object.assign(new Error('none'), { name: 'NoSuchLifecycleConfiguration' }));
    s3.on(DeleteBucketLifecycleCommand).resolves({});
    const record = await runLive(putRules({ ID: 'all', Status: 'Enabled', Filter: {}, Expiration: { Days: 2 } }));
    expect(record.outcome).toBe('remediated');
    expect(s3.commandCalls(DeleteBucketLifecycleCommand)[0]?.args[0].input).toEqual({ Bucket: OTHER_BUCKET, ExpectedBucketOwner: OWNER });
    expect(s3.commandCalls(PutBucketLifecycleConfigurationCommand)).toHaveLength(0);
    expect(record.actions[0]?.previous).toMatchObject({ Rules: [{ ID: 'logs' }, { ID: 'all' }] });
  });

  it('keeps a rule whose prefix cannot reach the trail’s keys', async () => {
    cloudTrail.on(DescribeTrailsCommand).resolves({ trailList: [trail('main', OTHER_BUCKET)] });
    s3.on(GetBucketLifecycleConfigurationCommand).resolves({ Rules: [rules[0] as LifecycleRule, rules[1] as LifecycleRule] });
    const record = await runLive(putRules({ ID: 'x', Status: 'Enabled', Expiration: { Days: 5 } }));
    // org/AWSLogs/ and scratch/ start unlike AWSLogs/ (the trail has no key prefix): nothing of its logs expires.
    expect(record.outcome).toBe('compliant');
  });

  it('is compliant, reading no lifecycle, when no trail writes to the bucket and it is not a known trail bucket', async () => {
    cloudTrail.on(DescribeTrailsCommand).resolves({ trailList: [trail('main', 'another-bucket')] });
    const record = await runLive(putRules({ ID: 'r', Status: 'Enabled', Expiration: { Days: 1 } }));
    expect(record.outcome).toBe('compliant');
    expect(s3.calls()).toHaveLength(0);
  });

  it('is compliant when the bucket has no lifecycle any more', async () => {
    cloudTrail.on(DescribeTrailsCommand).resolves({ trailList: [trail('main', OTHER_BUCKET)] });
    s3.on(GetBucketLifecycleConfigurationCommand).rejects(Object.assign(new Error('none'), { name: 'NoSuchLifecycleConfiguration' }));
    const record = await runLive(putRules({ ID: 'r', Status: 'Enabled', Expiration: { Days: 1 } }));
    expect(record.outcome).toBe('compliant');
    expect(s3.commandCalls(PutBucketLifecycleConfigurationCommand)).toHaveLength(0);
  });

  it('alerts with the put command (the remaining rules as JSON) when remediate is off, writing nothing', async () => {
    cloudTrail.on(DescribeTrailsCommand).resolves({ trailList: [trail('org-trail', OTHER_BUCKET, 'org')] });
    s3.on(GetBucketLifecycleConfigurationCommand).resolves({ Rules: rules });
    const record = await runLive(putRules({ ID: 'x', Status: 'Enabled', Expiration: { Days: 5 } }), settings({}));
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH' });
    expect(record.reason).toContain(
      `aws s3api put-bucket-lifecycle-configuration --region 'eu-west-1' --bucket '${OTHER_BUCKET}' --expected-bucket-owner '${OWNER}' --lifecycle-configuration '{"Rules":[{"ID":"scratch-1-day"`,
    );
    expect(s3.commandCalls(PutBucketLifecycleConfigurationCommand)).toHaveLength(0);
  });

  it('judges a configured trail bucket with no trail in this Region on every prefix', async () => {
    cloudTrail.on(DescribeTrailsCommand).resolves({ trailList: [] });
    s3.on(GetBucketLifecycleConfigurationCommand).resolves({ Rules: [rules[1] as LifecycleRule] });
    const record = await runLive(
      putRules({ ID: 'x', Status: 'Enabled', Expiration: { Days: 5 } }),
      settings({ remediate: false, trailBuckets: [OTHER_BUCKET] }),
    );
    expect(record.outcome).toBe('alerted');
    expect(record.reason).toContain('"scratch-1-day"');
    expect(record.reason).toContain('delete-bucket-lifecycle');
  });
});
