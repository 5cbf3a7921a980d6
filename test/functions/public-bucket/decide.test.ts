import { describe, expect, it } from 'vitest';
import { publicBucket, type BucketFacts, type BucketState } from '../../../functions/public-bucket/rule.js';
import { ParseError } from '../../../shared/errors.js';
import { parseEnvelope, toEnvelopeJson } from '../../../shared/events/schema.js';
import { ALL_BLOCKED } from '../../../shared/s3/public-access.js';
import { expectedOutcome, loadSample, runSample, sampleNames, withDetail } from '../../helpers/samples.js';

function factsOf(sample: unknown): BucketFacts {
  const event = parseEnvelope(toEnvelopeJson(sample));
  return publicBucket.parse({ event, record: event.detail });
}

function decideOn(name: string, state?: BucketState) {
  return publicBucket.decide(factsOf(loadSample('public-bucket', name)), state);
}

describe('public-bucket offline decisions over events/public-bucket', () => {
  it.each(sampleNames('public-bucket'))('%s ends in the outcome its name states', async (name) => {
    const { record } = await runSample(publicBucket, name);
    expect(record.outcome).toBe(expectedOutcome(name));
    expect(record.rule).toBe('public-bucket');
  });
});

describe('public-bucket parse', () => {
  it('reads the bucket from an ARN and normalises header lists and strings alike', () => {
    const sample = withDetail(loadSample('public-bucket', 'would-remediate.delete-public-access-block'), {
      requestParameters: { bucketName: 'arn:aws:s3:::example-by-arn', publicAccessBlock: [''] },
    });
    expect(factsOf(sample)).toMatchObject({ bucket: 'example-by-arn', weakening: true });
  });

  it('refuses a bucket name that cannot be a bucket, naming the field', () => {
    const sample = withDetail(loadSample('public-bucket', 'compliant.put-bucket-acl-canned-private'), {
      requestParameters: { bucketName: '...', 'x-amz-acl': ['public-read'] },
    });
    expect(() => factsOf(sample)).toThrow(ParseError);
    expect(() => factsOf(sample)).toThrow(/detail\.requestParameters\.bucketName/);
  });

  it('refuses a record without requestParameters', () => {
    const sample = withDetail(loadSample('public-bucket', 'compliant.put-bucket-acl-canned-private'), { requestParameters: null });
    expect(() => factsOf(sample)).toThrow(/detail\.requestParameters/);
  });

  it('finds a public statement in a policy given as a JSON string', () => {
    const sample = withDetail(loadSample('public-bucket', 'compliant.put-bucket-policy-service-principal'), {
      requestParameters: {
        bucketName: 'example-string-policy',
        bucketPolicy: JSON.stringify({ Statement: [{ Sid: 'Open', Effect: 'Allow', Principal: { AWS: '*' }, Action: 's3:GetObject' }] }),
      },
    });
    expect(factsOf(sample).requestExposures).toEqual([expect.stringContaining('statement Open')]);
  });

  it('does not count a Deny statement or an IfExists condition the same way', () => {
    const policy = {
      Statement: [
        { Sid: 'DenyAll', Effect: 'Deny', Principal: '*', Action: 's3:*' },
        { Sid: 'IfExists', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Condition: { StringEqualsIfExists: { 'aws:SourceVpce': 'vpce-1' } } },
      ],
    };
    const sample = withDetail(loadSample('public-bucket', 'compliant.put-bucket-policy-service-principal'), {
      requestParameters: { bucketName: 'example-mixed', bucketPolicy: policy },
    });
    expect(factsOf(sample).requestExposures).toEqual([expect.stringContaining('statement IfExists')]);
  });
});

describe('public-bucket: conditions that only look restricting (offline)', () => {
  const exposuresOf = (Condition: unknown) =>
    factsOf(
      withDetail(loadSample('public-bucket', 'compliant.put-bucket-policy-service-principal'), {
        requestParameters: {
          bucketName: 'example-conditions',
          bucketPolicy: { Statement: [{ Sid: 'Cond', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Condition }] },
        },
      }),
    ).requestExposures;

  it.each([
    ['a wildcard principal ARN', { StringLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/*' } }],
    ['two halves of the internet', { IpAddress: { 'aws:SourceIp': ['0.0.0.0/1', '128.0.0.0/1'] } }],
    ['an account pattern', { StringLike: { 'aws:SourceAccount': '*1' } }],
    ['an IPv6 /16', { IpAddress: { 'aws:SourceIp': '2001::/16' } }],
  ])('counts %s as public', (_name, condition) => {
    expect(exposuresOf(condition)).toEqual([expect.stringContaining('statement Cond')]);
  });

  it.each([
    ['an office range', { IpAddress: { 'aws:SourceIp': ['203.0.113.0/24'] } }],
    ['an organisation', { StringEquals: { 'aws:PrincipalOrgID': 'o-exampleorg1' } }],
    ['a VPC endpoint', { StringEquals: { 'aws:SourceVpce': 'vpce-1a2b3c4d' } }],
  ])('keeps %s as restricting', (_name, condition) => {
    expect(exposuresOf(condition)).toEqual([]);
  });
});

describe('public-bucket decisions on the bucket as it is now', () => {
  it('is compliant when Block Public Access is fully on, whatever the stale event said', () => {
    const decision = decideOn('would-remediate.put-bucket-acl-canned-public-read', { publicAccessBlock: ALL_BLOCKED });
    expect(decision).toMatchObject({ kind: 'compliant', reason: expect.stringContaining('fully on') });
  });

  it('plans the block with the previous configuration when a weakening call left it off', () => {
    const previous = { ...ALL_BLOCKED, BlockPublicPolicy: false };
    const decision = decideOn('would-remediate.put-public-access-block-flags-false', { publicAccessBlock: previous });
    expect(decision).toMatchObject({
      kind: 'violation',
      severity: 'HIGH',
      actions: [
        {
          api: 'S3.PutPublicAccessBlock',
          params: { Bucket: 'example-data-lake', PublicAccessBlockConfiguration: ALL_BLOCKED, ExpectedBucketOwner: '111122223333' },
          previous: { PublicAccessBlockConfiguration: previous },
        },
      ],
    });
  });

  it('is compliant when the ACL call left nothing public (private policy and ACL)', () => {
    const decision = decideOn('would-remediate.put-bucket-acl-canned-public-read', { publicAccessBlock: null, policyPublic: false, publicGrants: [] });
    expect(decision.kind).toBe('compliant');
  });

  it('does not call an ACL grant public when IgnorePublicAcls neutralises it', () => {
    const state = {
      publicAccessBlock: { ...ALL_BLOCKED, BlockPublicAcls: false, BlockPublicPolicy: false },
      policyPublic: false,
      publicGrants: ['READ to AllUsers'],
    };
    expect(decideOn('would-remediate.put-bucket-acl-canned-public-read', state).kind).toBe('compliant');
  });

  it('is a violation when the policy is public and nothing restricts it', () => {
    const decision = decideOn('would-remediate.put-bucket-policy-principal-star', { publicAccessBlock: null, policyPublic: true, publicGrants: [] });
    expect(decision).toMatchObject({ kind: 'violation', reason: expect.stringContaining('bucket policy is public') });
  });
});
