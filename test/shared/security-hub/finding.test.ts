import { describe, expect, it } from 'vitest';
import { OUTCOMES, type Outcome } from '../../../shared/remediation-log.js';
import { EXPORTED_OUTCOMES, findingIdOf, findingsOf, findingText, LIMITS } from '../../../shared/security-hub/finding.js';
import { DONE_ACTIONS, record } from '../../helpers/records.js';

const TARGET = { partition: 'aws', region: 'eu-west-1', account: '111122223333' };
const LOGGED_AT = Date.parse('2026-11-20T09:15:03.500Z');
const S3_CONTROLS = { other: ['S3.8'] } as const;
const only = (findings: ReturnType<typeof findingsOf>) => {
  expect(findings).toHaveLength(1);
  return findings[0]!;
};

describe('findingsOf: one record as ASFF', () => {
  it('maps a remediated public bucket to a PASSED finding with the ids, product, resource ARN, controls and actions', () => {
    const finding = only(
      findingsOf(
        record({
          actions: [DONE_ACTIONS.bucketHadNone],
          controls: ['S3.8'],
          reverseCommands: [{ resource: 'example-reports', command: "aws s3api delete-public-access-block --bucket 'example-reports'" }],
        }),
        LOGGED_AT,
        TARGET,
      ),
    );
    expect(finding).toMatchObject({
      SchemaVersion: '2018-10-08',
      ProductArn: 'arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default',
      ProductName: 'trailguard',
      CompanyName: 'trailguard',
      GeneratorId: 'trailguard/public-bucket',
      AwsAccountId: '111122223333',
      Region: 'eu-west-1',
      CreatedAt: '2026-11-20T09:15:00.000Z',
      FirstObservedAt: '2026-11-20T09:15:00.000Z',
      UpdatedAt: '2026-11-20T09:15:03.500Z',
      Severity: { Label: 'INFORMATIONAL', Original: 'HIGH' },
      Resources: [{ Type: 'AwsS3Bucket', Id: 'arn:aws:s3:::example-reports', Partition: 'aws', Region: 'eu-west-1' }],
      Compliance: {
        Status: 'PASSED',
        SecurityControlId: 'S3.8',
        AssociatedStandards: [
          { StandardsId: 'standards/aws-foundational-security-best-practices/v/1.0.0' },
          { StandardsId: 'standards/cis-aws-foundations-benchmark/v/5.0.0' },
        ],
        RelatedRequirements: ['AWS Foundational Security Best Practices S3.8', 'CIS AWS Foundations Benchmark v5.0.0 2.1.4'],
      },
      RecordState: 'ACTIVE',
      SourceUrl: 'https://s3.console.aws.amazon.com/s3/buckets/example-reports?region=eu-west-1',
    });
    expect(finding.ProductFields).toMatchObject({
      'trailguard/rule': 'public-bucket',
      'trailguard/outcome': 'remediated',
      'trailguard/eventId': 'evt-1',
      'trailguard/eventName': 'PutBucketAcl',
      'trailguard/actor': 'arn:aws:iam::111122223333:user/alice',
      'trailguard/actions': 'S3.PutPublicAccessBlock example-reports done',
      'trailguard/reverseCommand': "aws s3api delete-public-access-block --bucket 'example-reports'",
    });
    expect(finding.Remediation?.Recommendation?.Text).toMatch(
      /^To reverse \(exempt the resource first, or use trailguard undo with trailguard\/eventId\): aws s3api delete-public-access-block --bucket 'example-reports'\. /,
    );
    expect(finding.Types).toContain('Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark');
    expect(finding.FindingProviderFields).toEqual({ Severity: finding.Severity, Types: finding.Types });
    expect(finding).not.toHaveProperty('Workflow');
  });

  it.each([
    ['would-remediate', 'FAILED', 'ACTIVE', 'HIGH'],
    ['failed', 'FAILED', 'ACTIVE', 'HIGH'],
    ['alerted', 'FAILED', 'ACTIVE', 'HIGH'],
    ['reverted', 'FAILED', 'ACTIVE', 'HIGH'],
    ['remediated', 'PASSED', 'ACTIVE', 'INFORMATIONAL'],
    ['compliant', 'PASSED', 'ARCHIVED', 'INFORMATIONAL'],
  ] as const)('maps %s to compliance %s, record state %s, severity %s', (outcome, status, state, label) => {
    const finding = only(findingsOf(record({ outcome }), LOGGED_AT, TARGET));
    expect(finding.Compliance?.Status).toBe(status);
    expect(finding.RecordState).toBe(state);
    expect(finding.Severity?.Label).toBe(label);
    expect(finding.ProductFields?.['trailguard/outcome']).toBe(outcome);
  });

  it('exports no finding for exempt and ignored, and one for every other outcome', () => {
    const exported = OUTCOMES.filter((outcome: Outcome) => findingsOf(record({ outcome }), LOGGED_AT, TARGET).length > 0);
    expect(exported.sort()).toEqual([...EXPORTED_OUTCOMES].sort());
    expect(findingsOf(record({ outcome: 'exempt' }), LOGGED_AT, TARGET)).toEqual([]);
    expect(findingsOf(record({ outcome: 'ignored' }), LOGGED_AT, TARGET)).toEqual([]);
  });

  it.each([['CRITICAL'], ['HIGH'], ['MEDIUM'], ['LOW']] as const)('keeps severity %s on an open finding, as label and original', (severity) => {
    expect(only(findingsOf(record({ outcome: 'would-remediate', severity }), LOGGED_AT, TARGET)).Severity).toEqual({ Label: severity, Original: severity });
  });

  it('gives a record without severity INFORMATIONAL', () => {
    expect(only(findingsOf(record({ outcome: 'alerted', severity: null }), LOGGED_AT, TARGET)).Severity).toEqual({
      Label: 'INFORMATIONAL',
      Original: 'INFORMATIONAL',
    });
  });

  it('reopens a remediated finding when the remediation is reverted: same id, ACTIVE and FAILED again', () => {
    const remediated = only(findingsOf(record({ outcome: 'remediated' }), LOGGED_AT, TARGET));
    const reverted = only(findingsOf(record({ outcome: 'reverted', trigger: 'undo', reason: 'undo of evt-1' }), LOGGED_AT + 60_000, TARGET));
    expect(reverted.Id).toBe(remediated.Id);
    expect([remediated.Compliance?.Status, reverted.Compliance?.Status]).toEqual(['PASSED', 'FAILED']);
    expect(reverted.RecordState).toBe('ACTIVE');
    expect(reverted.UpdatedAt! > remediated.UpdatedAt!).toBe(true);
  });

  it('keeps the id stable per account, Region, rule and resource, and different when any of them differs', () => {
    const base = findingIdOf(record(), record().resources[0]);
    expect(findingIdOf(record({ outcome: 'failed', eventId: 'evt-2', reason: 'other' }), record().resources[0])).toBe(base);
    expect(findingIdOf(record({ account: '444455556666' }), record().resources[0])).not.toBe(base);
    expect(findingIdOf(record({ region: 'us-east-1' }), record().resources[0])).not.toBe(base);
    expect(findingIdOf(record({ rule: 'open-security-group' }), record().resources[0])).not.toBe(base);
    expect(findingIdOf(record(), { type: 'AWS::S3::Bucket', id: 'example-other' })).not.toBe(base);
    expect(base).toMatch(/^trailguard\/public-bucket\/111122223333\/[0-9a-f]{40}$/);
  });

  it('makes one finding per resource, at most 100', () => {
    const resources = Array.from({ length: 150 }, (_, i) => ({ type: 'AWS::EC2::Instance', id: `i-${i.toString(16).padStart(17, '0')}` }));
    const findings = findingsOf(record({ rule: 'untagged-instance', outcome: 'would-remediate', resources }), LOGGED_AT, TARGET);
    expect(findings).toHaveLength(100);
    expect(new Set(findings.map((f) => f.Id)).size).toBe(100);
    expect(findings[0]?.Resources?.[0]).toEqual({
      Type: 'AwsEc2Instance',
      Id: 'arn:aws:ec2:eu-west-1:111122223333:instance/i-00000000000000000',
      Partition: 'aws',
      Region: 'eu-west-1',
    });
  });

  it('maps security groups and trails to their ASFF types with ARNs, and anything else to Other', () => {
    const resourceOf = (type: string, id: string) =>
      only(findingsOf(record({ outcome: 'failed', resources: [{ type, id }] }), LOGGED_AT, TARGET)).Resources?.[0];
    expect(resourceOf('AWS::EC2::SecurityGroup', 'sg-0123456789abcdef0')).toMatchObject({
      Type: 'AwsEc2SecurityGroup',
      Id: 'arn:aws:ec2:eu-west-1:111122223333:security-group/sg-0123456789abcdef0',
    });
    expect(resourceOf('AWS::CloudTrail::Trail', 'management-events')).toMatchObject({
      Type: 'AwsCloudTrailTrail',
      Id: 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/management-events',
    });
    expect(resourceOf('AWS::IAM::User', 'alice')).toMatchObject({ Type: 'Other', Id: 'AWS::IAM::User alice' });
    // A malformed id never becomes an ARN.
    expect(resourceOf('AWS::S3::Bucket', 'Not A Bucket/..')).toMatchObject({ Type: 'Other', Id: 'AWS::S3::Bucket Not A Bucket/..' });
  });

  it('names the member account of an organisation-mode record on the resource, and imports it as the central account', () => {
    const finding = only(findingsOf(record({ account: '444455556666', outcome: 'would-remediate' }), LOGGED_AT, TARGET));
    expect(finding.AwsAccountId).toBe('111122223333');
    expect(finding.Resources?.[0]).toMatchObject({ Details: { Other: { account: '444455556666' } } });
    expect(finding.ProductFields?.['trailguard/account']).toBe('444455556666');
  });

  it('strips control and format characters from attacker-controlled text and keeps every field within its limit', () => {
    const evil = `evil\u001b]0;owned\u0007\r\nline\u202eeslaf\u200b${'é'.repeat(3000)}`;
    const finding = only(
      findingsOf(
        record({ outcome: 'failed', actor: evil, reason: evil, eventName: evil, resources: [{ type: 'AWS::IAM::User', id: evil }] }),
        LOGGED_AT,
        TARGET,
      ),
    );
    const texts = [finding.Title!, finding.Description!, ...Object.values(finding.ProductFields ?? {}), finding.Resources![0]!.Id!];
    for (const text of texts) expect(text).not.toMatch(/[\p{Cc}\p{Cf}\u2028\u2029]/u);
    expect(finding.Description).toMatch(/^evil \]0;owned line/);
    expect(Array.from(finding.Title!).length).toBeLessThanOrEqual(LIMITS.title);
    expect(Array.from(finding.Description!).length).toBe(LIMITS.description);
    expect(Array.from(finding.ProductFields!['trailguard/actor']!).length).toBeLessThanOrEqual(512);
  });

  it('cuts text on a code point, never inside a surrogate pair', () => {
    const cut = findingText('😀'.repeat(300), 256);
    expect(Array.from(cut)).toHaveLength(256);
    expect(cut.endsWith('😀...')).toBe(true);
    expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it("names the controls of the record's finding code, and none when the rule declares none", () => {
    const controls = { byFinding: { 'root-sign-in': ['IAM.9'] }, other: ['CloudWatch.1'] } as const;
    const rootSignIn = only(findingsOf(record({ rule: 'root-activity', outcome: 'alerted', finding: 'root-sign-in' }), LOGGED_AT, TARGET, { controls }));
    expect(rootSignIn.Compliance).toMatchObject({
      Status: 'FAILED',
      SecurityControlId: 'IAM.9',
      RelatedRequirements: ['AWS Foundational Security Best Practices IAM.9', 'CIS AWS Foundations Benchmark v5.0.0 1.4'],
    });
    expect(rootSignIn.Types).toContain('Unusual Behaviors/User');
    const other = only(findingsOf(record({ rule: 'root-activity', outcome: 'alerted', finding: null }), LOGGED_AT, TARGET, { controls }));
    expect(other.Compliance).toMatchObject({
      SecurityControlId: 'CloudWatch.1',
      AssociatedStandards: [
        { StandardsId: 'standards/aws-foundational-security-best-practices/v/1.0.0' },
        { StandardsId: 'standards/cis-aws-foundations-benchmark/v/1.4.0' },
      ],
    });
    expect(only(findingsOf(record({ outcome: 'failed' }), LOGGED_AT, TARGET)).Compliance).toEqual({ Status: 'FAILED' });
  });

  it('uses the event time when the log time is unknown, and exports nothing without a plausible time', () => {
    expect(only(findingsOf(record(), undefined, TARGET)).UpdatedAt).toBe('2026-11-20T09:15:00.000Z');
    expect(findingsOf(record({ eventTime: 'yesterday' }), undefined, TARGET)).toEqual([]);
    expect(findingsOf(record({ eventTime: '1970-01-01T00:00:00Z' }), undefined, TARGET)).toEqual([]);
  });

  it('gives a record without resources one finding on the account', () => {
    const finding = only(findingsOf(record({ rule: 'root-activity', outcome: 'alerted', resources: [] }), LOGGED_AT, TARGET));
    expect(finding.Resources).toEqual([{ Type: 'Other', Id: 'account 111122223333', Partition: 'aws' }]);
    expect(finding.SourceUrl).toBeUndefined();
  });

  it('puts on each finding only the reverse commands of its own resource, one printable line each', () => {
    const groups = [
      { type: 'AWS::EC2::SecurityGroup', id: 'sg-0123456789abcdef0' },
      { type: 'AWS::EC2::SecurityGroup', id: 'sg-0fedcba9876543210' },
    ];
    const findings = findingsOf(
      record({
        rule: 'open-security-group',
        resources: groups,
        reverseCommands: [
          { resource: 'sg-0123456789abcdef0', command: "aws ec2 authorize-security-group-ingress --group-id 'sg-0123456789abcdef0'" },
          { resource: 'sg-0fedcba9876543210', command: "aws ec2 authorize-security-group-ingress --group-id 'sg-0fedcba9876543210'\r\n\u001b[2Jrm -rf ~" },
        ],
      }),
      LOGGED_AT,
      TARGET,
    );
    expect(findings.map((f) => f.ProductFields?.['trailguard/reverseCommand'])).toEqual([
      "aws ec2 authorize-security-group-ingress --group-id 'sg-0123456789abcdef0'",
      "aws ec2 authorize-security-group-ingress --group-id 'sg-0fedcba9876543210' [2Jrm -rf ~",
    ]);
  });

  it('ignores reverse commands on anything but a remediation, and entries of the wrong shape', () => {
    const reverseCommands = [{ resource: 'example-reports', command: "aws s3api delete-public-access-block --bucket 'example-reports'" }];
    expect(only(findingsOf(record({ outcome: 'failed', reverseCommands }), LOGGED_AT, TARGET)).ProductFields).not.toHaveProperty('trailguard/reverseCommand');
    const odd = record({ reverseCommands: ['aws s3api x', { resource: 'example-reports' }, null] as never });
    const finding = only(findingsOf(odd, LOGGED_AT, TARGET));
    expect(finding.ProductFields).not.toHaveProperty('trailguard/reverseCommand');
    expect(finding.Remediation?.Recommendation?.Text).toBe('trailguard remediated it ().');
  });

  it('takes the controls from the record over the context, and only ids of the catalogue', () => {
    const fromRecord = only(findingsOf(record({ outcome: 'failed', controls: ['S3.8'] }), LOGGED_AT, TARGET, { controls: { other: ['IAM.9'] } }));
    expect(fromRecord.Compliance?.SecurityControlId).toBe('S3.8');
    const forged = only(findingsOf(record({ outcome: 'failed', controls: ['S3.999', 'x'.repeat(5000), 42, 'S3.8'] as never }), LOGGED_AT, TARGET));
    expect(forged.Compliance).toMatchObject({
      SecurityControlId: 'S3.8',
      RelatedRequirements: ['AWS Foundational Security Best Practices S3.8', 'CIS AWS Foundations Benchmark v5.0.0 2.1.4'],
    });
    // An older record (no controls field) names its rule's, when the caller has them.
    expect(only(findingsOf(record({ outcome: 'failed' }), LOGGED_AT, TARGET, { controls: S3_CONTROLS })).Compliance?.SecurityControlId).toBe('S3.8');
  });
});
