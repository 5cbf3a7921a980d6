import { GetBucketLifecycleConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { stepOf, type PlannedAction } from '../../../shared/actions/action.js';
import {
  deleteBucketLifecycle,
  deleteBucketLifecycleSignature,
  putBucketLifecycleConfiguration,
  putBucketLifecycleSignature,
  shortness,
} from '../../../shared/actions/s3-bucket-lifecycle.js';
import { sampleConfig } from '../../helpers/samples.js';

const s3 = mockClient(S3Client);
beforeEach(() => {
  s3.reset();
  s3.rejects(new Error('unexpected S3 call'));
});
afterAll(() => s3.restore());

const BUCKET = 'example-trail-logs';
const OWNER = '111122223333';
const resource = { type: 'AWS::S3::Bucket', id: BUCKET };
const LONG = { ID: 'keep', Status: 'Enabled', Filter: { Prefix: 'AWSLogs/' }, Expiration: { Days: 400 } };
const SHORT = { ID: 'nuke', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 1 } };
const put = (Rules: unknown[], previous?: unknown): PlannedAction => ({
  api: putBucketLifecycleConfiguration.api,
  resource,
  params: { Bucket: BUCKET, LifecycleConfiguration: { Rules }, ExpectedBucketOwner: OWNER },
  ...(previous ? { previous } : {}),
});
const putStep = (Rules: unknown[], previous?: unknown) => stepOf(putBucketLifecycleConfiguration, put(Rules, previous), 'eu-west-1') as never;
const s3Clients = () => ({ s3: s3 as unknown as S3Client }) as never;

describe('S3.PutBucketLifecycleConfiguration', () => {
  it('reverses by putting the replaced rules back (dates from the log record as Dates), or deleting when there were none', () => {
    const dated = { ID: 'dated', Status: 'Enabled', Expiration: { Date: '2027-01-01T00:00:00.000Z' } };
    const back = putBucketLifecycleConfiguration.reverse(putStep([LONG], { Rules: [LONG, dated] }));
    expect(back).toMatchObject({
      kind: 'steps',
      steps: [{ action: { api: 'S3.PutBucketLifecycleConfiguration', params: { Bucket: BUCKET, ExpectedBucketOwner: OWNER }, previous: { Rules: [LONG] } } }],
    });
    const rules = (back as unknown as { steps: { action: { params: { LifecycleConfiguration: { Rules: { Expiration?: { Date?: unknown } }[] } } } }[] })
      .steps[0]?.action.params.LifecycleConfiguration.Rules;
    expect(rules?.[1]?.Expiration?.Date).toEqual(new Date('2027-01-01T00:00:00.000Z'));
    expect(putBucketLifecycleConfiguration.reverse(putStep([LONG], { Rules: [] }))).toMatchObject({
      kind: 'steps',
      steps: [{ action: { api: 'S3.DeleteBucketLifecycle', params: { Bucket: BUCKET, ExpectedBucketOwner: OWNER } } }],
    });
    expect(putBucketLifecycleConfiguration.reverse(putStep([LONG]))).toMatchObject({ kind: 'none' });
  });

  it('gives the command with every value quoted, the rules as JSON', () => {
    expect(putBucketLifecycleConfiguration.command(putStep([{ ...LONG, ID: "it's" }]))).toBe(
      `aws s3api put-bucket-lifecycle-configuration --region 'eu-west-1' --bucket '${BUCKET}' --expected-bucket-owner '${OWNER}' --lifecycle-configuration '{"Rules":[{"ID":"it'\\''s","Status":"Enabled","Filter":{"Prefix":"AWSLogs/"},"Expiration":{"Days":400}}]}'`,
    );
  });

  it.each([
    [[{ ...LONG, Status: 'On' }], 'a status other than Enabled/Disabled'],
    [[], 'no rules (a delete is the other action)'],
    [Array.from({ length: 1001 }, (_, i) => ({ ...LONG, ID: `r${i}` })), 'more than 1,000 rules'],
    [[{ ...LONG, Expiration: { Days: '400' } }], 'days as text'],
  ] as [unknown[], string][])('refuses %#: %s', (rules) => {
    expect(() => putStep(rules)).toThrow(/not what it takes/);
  });

  it('reads back ok only when every rule reads back with what it expires', async () => {
    s3.on(GetBucketLifecycleConfigurationCommand)
      .resolvesOnce({ Rules: [LONG as never] })
      .resolvesOnce({ Rules: [SHORT as never] });
    await expect(putBucketLifecycleConfiguration.verify(putStep([LONG]), s3Clients())).resolves.toMatchObject({ ok: true });
    await expect(putBucketLifecycleConfiguration.verify(putStep([LONG]), s3Clients())).resolves.toMatchObject({ ok: false });
  });

  it('calls a put ours only when no rule is short for the configured retention (numbers logged as text too)', () => {
    const caller = { enforces: false, config: sampleConfig() };
    const logged = (Rule: unknown) => ({ bucketName: BUCKET, LifecycleConfiguration: { Rule } });
    expect(putBucketLifecycleSignature.isOwnWrite(logged({ ...LONG, Expiration: { Days: '400' } }), caller)).toBe(true);
    expect(putBucketLifecycleSignature.isOwnWrite(logged([LONG, { ...SHORT, Status: 'Disabled' }]), caller)).toBe(true);
    expect(putBucketLifecycleSignature.isOwnWrite(logged([LONG, SHORT]), caller)).toBe(false);
    expect(putBucketLifecycleSignature.isOwnWrite(logged({ ...LONG, Expiration: { Days: 'soon' } }), caller)).toBe(false);
    expect(putBucketLifecycleSignature.isOwnWrite({ bucketName: BUCKET }, caller)).toBe(false);
    expect(putBucketLifecycleSignature.eventName).toBe('PutBucketLifecycle');
  });
});

describe('S3.DeleteBucketLifecycle', () => {
  const del = (previous?: unknown) =>
    stepOf(
      deleteBucketLifecycle,
      { api: deleteBucketLifecycle.api, resource, params: { Bucket: BUCKET, ExpectedBucketOwner: OWNER }, ...(previous ? { previous } : {}) },
      'eu-west-1',
    ) as never;

  it('reverses by putting the deleted rules back; without them, nothing to put back', () => {
    expect(deleteBucketLifecycle.reverse(del({ Rules: [SHORT] }))).toMatchObject({
      kind: 'steps',
      steps: [
        {
          action: {
            api: 'S3.PutBucketLifecycleConfiguration',
            params: { Bucket: BUCKET, LifecycleConfiguration: { Rules: [SHORT] }, ExpectedBucketOwner: OWNER },
          },
        },
      ],
    });
    expect(deleteBucketLifecycle.reverse(del())).toMatchObject({ kind: 'none' });
    expect(deleteBucketLifecycle.command(del())).toBe(
      `aws s3api delete-bucket-lifecycle --region 'eu-west-1' --bucket '${BUCKET}' --expected-bucket-owner '${OWNER}'`,
    );
    expect(deleteBucketLifecycle.iam).toBe('s3:PutLifecycleConfiguration');
    expect(deleteBucketLifecycleSignature.eventName).toBe('DeleteBucketLifecycle');
  });

  it('reads back ok only when the bucket has no configuration', async () => {
    s3.on(GetBucketLifecycleConfigurationCommand)
      .rejectsOnce(Object.assign(new Error('none'), { name: 'NoSuchLifecycleConfiguration' }))
      .resolvesOnce({ Rules: [LONG as never] });
    await expect(deleteBucketLifecycle.verify(del(), s3Clients())).resolves.toMatchObject({ ok: true });
    await expect(deleteBucketLifecycle.verify(del(), s3Clients())).resolves.toMatchObject({ ok: false });
  });
});

describe('shortness', () => {
  const at = Date.parse('2026-11-20T00:00:00Z');
  it('is short for an enabled rule expiring current or noncurrent objects under the retention, never for a disabled one', () => {
    expect(shortness({ id: 'a', enabled: true, prefix: '', expirationDays: 364 }, 365, at)).toBe('expires objects after 364 days');
    expect(shortness({ id: 'a', enabled: true, prefix: '', expirationDays: 365 }, 365, at)).toBeUndefined();
    expect(shortness({ id: 'a', enabled: false, prefix: '', expirationDays: 1 }, 365, at)).toBeUndefined();
    expect(shortness({ id: 'a', enabled: true, prefix: '', noncurrentDays: 30 }, 365, at)).toBe('expires noncurrent versions after 30 days');
    expect(shortness({ id: 'a', enabled: true, prefix: '', expirationDateMs: Date.parse('2027-06-01T00:00:00Z') }, 365, at)).toBe(
      'expires objects on 2027-06-01',
    );
    expect(shortness({ id: 'a', enabled: true, prefix: '', expirationDateMs: Date.parse('2027-12-01T00:00:00Z') }, 365, at)).toBeUndefined();
  });
});
