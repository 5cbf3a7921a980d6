import type { ActionRecord, RemediationRecord } from '../../shared/remediation-log.js';

/** A remediation-log record with plausible defaults; tests override what they assert on. */
export function record(overrides: Partial<RemediationRecord> = {}): RemediationRecord {
  return {
    rule: 'public-bucket',
    outcome: 'remediated',
    severity: 'HIGH',
    mode: 'live',
    trigger: 'event',
    eventId: 'evt-1',
    eventName: 'PutBucketAcl',
    eventSource: 's3.amazonaws.com',
    eventTime: '2026-11-20T09:15:00Z',
    errorCode: null,
    account: '111122223333',
    region: 'eu-west-1',
    actor: 'arn:aws:iam::111122223333:user/alice',
    actorType: 'IAMUser',
    sourceIp: '203.0.113.10',
    userAgent: 'aws-cli/2',
    resources: [{ type: 'AWS::S3::Bucket', id: 'example-reports' }],
    actions: [],
    reason: 'example-reports is public; remediated and verified',
    finding: null,
    exemptions: [],
    error: null,
    notification: { status: 'not-needed' },
    durationMs: 100,
    exposureMs: null,
    ...overrides,
  };
}

const ALL = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };

/** The done, verified actions each rule writes live, with the `previous` it records. */
export const DONE_ACTIONS = {
  bucketHadNone: {
    api: 'S3.PutPublicAccessBlock',
    status: 'done',
    resource: 'example-reports',
    params: { Bucket: 'example-reports', PublicAccessBlockConfiguration: ALL, ExpectedBucketOwner: '111122223333' },
    previous: { PublicAccessBlockConfiguration: null },
    verification: { ok: true, detail: 'all four Block Public Access settings read back as true' },
  },
  bucketHadSome: {
    api: 'S3.PutPublicAccessBlock',
    status: 'done',
    resource: 'example-reports',
    params: { Bucket: 'example-reports', PublicAccessBlockConfiguration: ALL, ExpectedBucketOwner: '111122223333' },
    previous: { PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: false, RestrictPublicBuckets: false } },
    verification: { ok: true, detail: 'all four Block Public Access settings read back as true' },
  },
  revoke: {
    api: 'EC2.RevokeSecurityGroupIngress',
    status: 'done',
    resource: 'sg-0123456789abcdef0',
    params: { GroupId: 'sg-0123456789abcdef0', SecurityGroupRuleIds: ['sgr-0aaaaaaaaaaaaaaaa', 'sgr-0bbbbbbbbbbbbbbbb'] },
    previous: {
      SecurityGroupRules: [
        {
          SecurityGroupRuleId: 'sgr-0aaaaaaaaaaaaaaaa',
          IsEgress: false,
          IpProtocol: 'tcp',
          FromPort: 22,
          ToPort: 22,
          CidrIpv4: '0.0.0.0/0',
          Description: "ops' ssh",
        },
        { SecurityGroupRuleId: 'sgr-0bbbbbbbbbbbbbbbb', IsEgress: false, IpProtocol: '-1', FromPort: -1, ToPort: -1, CidrIpv6: '::/0' },
      ],
    },
    verification: { ok: true, detail: 'sgr-0aaaaaaaaaaaaaaaa, sgr-0bbbbbbbbbbbbbbbb read back as gone' },
  },
  tags: {
    api: 'EC2.CreateTags',
    status: 'done',
    resource: 'i-0123456789abcdef0',
    params: {
      Resources: ['i-0123456789abcdef0'],
      Tags: [
        { Key: 'Owner', Value: 'arn:aws:iam::111122223333:user/alice' },
        { Key: 'CostCenter', Value: 'unknown' },
        { Key: 'trailguard:tagged-at', Value: '2026-11-20T09:15:00Z' },
      ],
    },
    // CostCenter existed before (with another value): never removed.
    previous: { Tags: { Name: 'web', CostCenter: 'cc-42' } },
    verification: { ok: true, detail: 'tags read back' },
  },
  updateTrail: {
    api: 'CloudTrail.UpdateTrail',
    status: 'done',
    resource: 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail',
    params: { Name: 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail', EnableLogFileValidation: true, IsMultiRegionTrail: true },
    previous: { EnableLogFileValidation: false, IsMultiRegionTrail: false },
    verification: { ok: true, detail: 'GetTrail reads LogFileValidationEnabled: true, IsMultiRegionTrail: true' },
  },
  startLogging: {
    api: 'CloudTrail.StartLogging',
    status: 'done',
    resource: 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail',
    params: { Name: 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail' },
    previous: { IsLogging: false },
    verification: { ok: true, detail: 'GetTrailStatus reads IsLogging: true' },
  },
} satisfies Record<string, ActionRecord>;

export const TRAIL = {
  type: 'AWS::CloudTrail::Trail',
  id: 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail',
  name: 'org-trail',
  region: 'eu-west-1',
};

/** One live remediated record per rule, each with its done action. */
export function liveRecords(): Record<'bucket' | 'group' | 'instance' | 'trail', RemediationRecord> {
  return {
    bucket: record({ eventId: 'evt-bucket', actions: [DONE_ACTIONS.bucketHadNone], exposureMs: 4_000 }),
    group: record({
      rule: 'open-security-group',
      eventId: 'evt-sg',
      eventName: 'AuthorizeSecurityGroupIngress',
      eventSource: 'ec2.amazonaws.com',
      resources: [{ type: 'AWS::EC2::SecurityGroup', id: 'sg-0123456789abcdef0', name: 'web' }],
      actions: [DONE_ACTIONS.revoke],
      exposureMs: 2_000,
    }),
    instance: record({
      rule: 'untagged-instance',
      severity: 'LOW',
      eventId: 'evt-i',
      eventName: 'RunInstances',
      eventSource: 'ec2.amazonaws.com',
      resources: [{ type: 'AWS::EC2::Instance', id: 'i-0123456789abcdef0' }],
      actions: [DONE_ACTIONS.tags],
      exposureMs: 1_500,
    }),
    trail: record({
      rule: 'trail-logging',
      eventId: 'evt-trail',
      eventName: 'UpdateTrail',
      eventSource: 'cloudtrail.amazonaws.com',
      resources: [TRAIL],
      actions: [DONE_ACTIONS.updateTrail],
      exposureMs: 3_000,
    }),
  };
}
