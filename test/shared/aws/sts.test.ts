import { CloudTrailClient, DescribeTrailsCommand } from '@aws-sdk/client-cloudtrail';
import { AssumeRoleCommand, STSClient, type AssumeRoleCommandInput } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RULES } from '../../../functions/rules.js';
import { openSecurityGroup } from '../../../functions/open-security-group/rule.js';
import { publicBucket } from '../../../functions/public-bucket/rule.js';
import { s3BucketDeleted } from '../../../functions/s3-bucket-deleted/rule.js';
import { trailLogging } from '../../../functions/trail-logging/rule.js';
import { untaggedInstanceEnforce } from '../../../functions/untagged-instance/enforce.js';
import { untaggedInstance } from '../../../functions/untagged-instance/rule.js';
import { ec2Client } from '../../../shared/aws/ec2.js';
import { accountAccess, resetAssumedRoleSessions, sessionPolicyFor } from '../../../shared/aws/sts.js';
import type { AnyRule } from '../../../shared/rule.js';
import { lambdaRunner } from '../../../shared/runner/lambda.js';
import { capturingDeps, loadSample, sampleConfig } from '../../helpers/samples.js';

const CENTRAL = '111122223333';
const MEMBER = '444455556666';
const STS_OPTIONS = { region: 'eu-west-1', endpoint: undefined };
const orgConfig = () => sampleConfig({ region: 'eu-west-1', organization: { organizationId: 'o-exampleorg1', centralAccountId: CENTRAL } });
const organization = () => orgConfig().organization;

const sts = mockClient(STSClient);
const cloudTrail = mockClient(CloudTrailClient);

/** AssumeRole's answer: credentials named after the session, an hour long. */
const session = (name: string) => ({
  Credentials: { AccessKeyId: `ASIA${name}`, SecretAccessKey: 'example-secret', SessionToken: 'example-token', Expiration: new Date(Date.now() + 3_600_000) },
});

beforeEach(() => {
  resetAssumedRoleSessions();
  sts.reset();
  cloudTrail.reset();
  sts.rejects(new Error('unexpected STS call'));
  cloudTrail.rejects(new Error('unexpected CloudTrail call'));
  let calls = 0;
  sts.on(AssumeRoleCommand).callsFake(() => {
    calls += 1;
    return session(String(calls));
  });
});
afterEach(() => {
  sts.reset();
  cloudTrail.reset();
});

const assumed = (): AssumeRoleCommandInput[] => sts.commandCalls(AssumeRoleCommand).map((call) => call.args[0].input);
const policyOf = (input: AssumeRoleCommandInput | undefined) =>
  JSON.parse(input?.Policy ?? 'null') as { Statement: { Effect: string; Action: string[]; Resource: string }[] };
const READ_ACTION = /^[a-z0-9]+:(Get|Describe|List|Head|Lookup)[A-Za-z]+$/;

// Each acting function's IAM actions in a member account, written out: the session may do exactly these.
const MEMBER_ACTIONS: readonly [string, AnyRule, readonly string[]][] = [
  ['public-bucket', publicBucket, ['s3:GetBucketAcl', 's3:GetBucketPolicyStatus', 's3:GetBucketPublicAccessBlock', 's3:PutBucketPublicAccessBlock']],
  ['open-security-group', openSecurityGroup, ['ec2:DescribeSecurityGroupRules', 'ec2:DescribeSecurityGroups', 'ec2:RevokeSecurityGroupIngress']],
  [
    'trail-logging',
    trailLogging,
    [
      'cloudtrail:GetEventSelectors',
      'cloudtrail:GetTrail',
      'cloudtrail:GetTrailStatus',
      'cloudtrail:PutEventSelectors',
      'cloudtrail:StartLogging',
      'cloudtrail:UpdateTrail',
    ],
  ],
  // Its Scheduler calls are made in trailguard's own account, with the function's own role: not in the session.
  ['untagged-instance', untaggedInstance, ['ec2:CreateTags', 'ec2:DescribeInstances', 'ec2:DescribeTags']],
  ['untagged-instance enforcement', untaggedInstanceEnforce, ['ec2:DescribeInstances', 'ec2:StopInstances']],
  ['s3-bucket-deleted', s3BucketDeleted, ['cloudtrail:DescribeTrails']],
];

describe("organisation mode: each function's member session holds only its own actions", () => {
  it.each(MEMBER_ACTIONS)('%s: AssumeRole carries a session policy of exactly its actions', async (_name, rule, actions) => {
    await accountAccess(organization(), MEMBER, rule, STS_OPTIONS)?.credentials();

    expect(assumed()).toHaveLength(1);
    expect(policyOf(assumed()[0])).toEqual({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: [...actions].sort(), Resource: '*' }] });
  });

  it('gives every rule that calls AWS a policy of its permissions less its own-account calls, and no rule a wildcard', async () => {
    for (const rule of RULES) {
      const own = new Set(rule.ownAccountApis ?? []);
      const expected = [
        ...new Set(
          Object.entries(rule.permissions)
            .filter(([api]) => !own.has(api))
            .map(([, action]) => action),
        ),
      ].sort();
      sts.resetHistory();
      const access = accountAccess(organization(), MEMBER, rule, STS_OPTIONS);
      await access?.credentials();

      if (expected.length === 0) {
        expect(access, rule.id).toBeUndefined();
        expect(assumed(), rule.id).toEqual([]);
        continue;
      }
      expect(
        policyOf(assumed()[0]).Statement.flatMap((s) => s.Action),
        rule.id,
      ).toEqual(expected);
      expect(
        expected.some((action) => action.includes('*')),
        rule.id,
      ).toBe(false);
      // STS refuses a session policy over 2,048 characters (and a packed size over its limit): stay far under.
      expect(sessionPolicyFor(rule).length, rule.id).toBeLessThan(512);
    }
  });

  it('assumes the member role for notify-only s3-bucket-deleted with one read and no write', async () => {
    cloudTrail.on(DescribeTrailsCommand).resolves({ trailList: [] });
    const deps = capturingDeps({ mode: 'live', config: orgConfig() });
    const event = structuredClone(loadSample('s3-bucket-deleted', 'alerted.delete-bucket')) as { account: string; detail: { recipientAccountId: string } };
    event.account = MEMBER;
    event.detail.recipientAccountId = MEMBER;

    const record = await lambdaRunner(s3BucketDeleted, () => deps)(event);

    expect(record).toMatchObject({ outcome: 'alerted', account: MEMBER });
    expect(cloudTrail).toHaveReceivedCommandTimes(DescribeTrailsCommand, 1);
    const actions = policyOf(assumed()[0]).Statement.flatMap((s) => s.Action);
    expect(actions).toEqual(['cloudtrail:DescribeTrails']);
    expect(actions.filter((action) => !READ_ACTION.test(action))).toEqual([]);
  });

  it("caches sessions per rule: one AssumeRole per rule and account, never one rule's session for another", async () => {
    const access = (rule: AnyRule) => accountAccess(organization(), MEMBER, rule, STS_OPTIONS);

    const bucket = await access(publicBucket)?.credentials();
    const trail = await access(trailLogging)?.credentials();
    const bucketAgain = await access(publicBucket)?.credentials();

    expect(assumed().map((input) => input.RoleSessionName)).toEqual(['trailguard-public-bucket', 'trailguard-trail-logging']);
    expect(bucketAgain).toEqual(bucket);
    expect(trail?.accessKeyId).not.toBe(bucket?.accessKeyId);
  });

  it("keeps the enforcement check's session and clients apart from its rule's, although they share a session name", async () => {
    const own = { ...STS_OPTIONS, readOnly: false };
    const tagging = accountAccess(organization(), MEMBER, untaggedInstance, STS_OPTIONS);
    const stopping = accountAccess(organization(), MEMBER, untaggedInstanceEnforce, STS_OPTIONS);

    const [tags, stops] = [await tagging?.credentials(), await stopping?.credentials()];

    expect(assumed().map((input) => input.RoleSessionName)).toEqual(['trailguard-untagged-instance', 'trailguard-untagged-instance']);
    expect(assumed().map((input) => policyOf(input).Statement[0]?.Action.includes('ec2:StopInstances'))).toEqual([false, true]);
    expect(stops?.accessKeyId).not.toBe(tags?.accessKeyId);
    expect(ec2Client({ ...own, account: stopping })).not.toBe(ec2Client({ ...own, account: tagging }));
    expect(ec2Client({ ...own, account: tagging })).toBe(ec2Client({ ...own, account: accountAccess(organization(), MEMBER, untaggedInstance, STS_OPTIONS) }));
  });
});
