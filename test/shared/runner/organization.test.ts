import { GetBucketAclCommand, GetBucketPolicyStatusCommand, GetPublicAccessBlockCommand, PutPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { routeEvent } from '../../../cli/replay.js';
import { publicBucket } from '../../../functions/public-bucket/rule.js';
import { RULES } from '../../../functions/rules.js';
import { untaggedInstance } from '../../../functions/untagged-instance/rule.js';
import { ec2Client } from '../../../shared/aws/ec2.js';
import { s3Client } from '../../../shared/aws/s3.js';
import { schedulerClient } from '../../../shared/aws/scheduler.js';
import { accountAccess, resetAssumedRoleSessions, sessionNameFor } from '../../../shared/aws/sts.js';
import { lambdaRunner } from '../../../shared/runner/lambda.js';
import { ALL_BLOCKED } from '../../../shared/s3/public-access.js';
import { capturingDeps, loadSample, sampleConfig } from '../../helpers/samples.js';

const CENTRAL = '111122223333';
const MEMBER = '444455556666';
const OTHER_MEMBER = '777788889999';
const ORGANIZATION = { organizationId: 'o-exampleorg1', centralAccountId: CENTRAL };
const orgConfig = (organization: Record<string, unknown> = {}) => sampleConfig({ region: 'eu-west-1', organization: { ...ORGANIZATION, ...organization } });
const MEMBER_ROLE = `arn:aws:iam::${MEMBER}:role/trailguard-remediation`;

const sts = mockClient(STSClient);
const s3 = mockClient(S3Client);
const BLOCKED = { PublicAccessBlockConfiguration: ALL_BLOCKED };
const NONE_SET = Object.assign(new Error('The public access block configuration was not found'), { name: 'NoSuchPublicAccessBlockConfiguration' });
const ACCESS_DENIED = Object.assign(
  new Error(
    `User: arn:aws:sts::${CENTRAL}:assumed-role/trailguard-prod-publicBucket-role/x is not authorized to perform: sts:AssumeRole on resource: ${MEMBER_ROLE}`,
  ),
  {
    name: 'AccessDenied',
    $metadata: { httpStatusCode: 403 },
  },
);

/** AssumeRole's answer: credentials named after the account, expiring `minutes` from now. */
const session = (account: string, minutes = 60) => ({
  Credentials: {
    AccessKeyId: `ASIA${account}`,
    SecretAccessKey: 'example-secret',
    SessionToken: 'example-token',
    Expiration: new Date(Date.now() + minutes * 60_000),
  },
});

/** The public-read sample as if it happened in `account` and `region` (EventBridge keeps the source account on the central bus). */
function inAccount(account: string, options: { region?: string; id?: string; sample?: string; actor?: Record<string, unknown> } = {}): unknown {
  const event = structuredClone(loadSample('public-bucket', options.sample ?? 'would-remediate.put-bucket-acl-canned-public-read')) as {
    account: string;
    region: string;
    id: string;
    detail: { eventID: string; recipientAccountId: string; awsRegion: string; userIdentity: Record<string, unknown> };
  };
  const region = options.region ?? 'eu-west-1';
  event.account = account;
  event.region = region;
  event.id = options.id ?? `${account}-${region}`;
  event.detail.eventID = event.id;
  event.detail.recipientAccountId = account;
  event.detail.awsRegion = region;
  event.detail.userIdentity = options.actor ?? { ...event.detail.userIdentity, accountId: account, arn: `arn:aws:iam::${account}:user/alice` };
  return event;
}

beforeEach(() => {
  resetAssumedRoleSessions();
  sts.reset();
  s3.reset();
  sts.rejects(new Error('unexpected STS call'));
  s3.rejects(new Error('unexpected S3 call'));
});
afterEach(() => {
  sts.reset();
  s3.reset();
});

describe("organisation mode: acting in the event's account", () => {
  it("assumes the member role of the event's account and remediates there, in the event's region", async () => {
    sts.on(AssumeRoleCommand).resolves(session(MEMBER));
    s3.on(GetPublicAccessBlockCommand).rejectsOnce(NONE_SET).resolves(BLOCKED);
    s3.on(GetBucketPolicyStatusCommand).resolves({ PolicyStatus: { IsPublic: false } });
    s3.on(GetBucketAclCommand).resolves({
      Grants: [{ Grantee: { Type: 'Group', URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' }],
    });
    s3.on(PutPublicAccessBlockCommand).resolves({});
    const deps = capturingDeps({ mode: 'live', config: orgConfig() });

    const record = await lambdaRunner(publicBucket, () => deps)(inAccount(MEMBER, { region: 'us-west-2' }));

    expect(sts).toHaveReceivedCommandExactlyOnceWith(AssumeRoleCommand, { RoleArn: MEMBER_ROLE, RoleSessionName: 'trailguard-public-bucket' });
    expect(await sts.call(0).thisValue.config.region()).toBe('eu-west-1'); // STS of the function's own region
    expect(s3).toHaveReceivedCommandWith(PutPublicAccessBlockCommand, {
      Bucket: 'example-reports',
      ExpectedBucketOwner: MEMBER,
      PublicAccessBlockConfiguration: ALL_BLOCKED,
    });
    const writer = s3.commandCalls(PutPublicAccessBlockCommand)[0]?.thisValue as S3Client;
    expect(await writer.config.region()).toBe('us-west-2');
    expect(await writer.config.credentials()).toMatchObject({ accessKeyId: `ASIA${MEMBER}`, sessionToken: 'example-token' });
    expect(record).toMatchObject({ outcome: 'remediated', account: MEMBER, region: 'us-west-2' });
    expect(deps.published[0]?.attributes).toMatchObject({ account: MEMBER });
  });

  it('sends the external id when one is configured', async () => {
    sts.on(AssumeRoleCommand).resolves(session(MEMBER));
    s3.on(GetPublicAccessBlockCommand).resolves(BLOCKED);
    const deps = capturingDeps({ mode: 'dry-run', config: orgConfig({ externalId: 'example-external-id' }) });

    const record = await lambdaRunner(publicBucket, () => deps)(inAccount(MEMBER));

    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, { RoleArn: MEMBER_ROLE, ExternalId: 'example-external-id' });
    expect(record).toMatchObject({ outcome: 'compliant', account: MEMBER });
  });

  it("acts on the central account's own events with the function's own role: no AssumeRole", async () => {
    s3.on(GetPublicAccessBlockCommand).resolves(BLOCKED);
    const deps = capturingDeps({ mode: 'dry-run', config: orgConfig() });

    const record = await lambdaRunner(publicBucket, () => deps)(inAccount(CENTRAL));

    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 0);
    expect(s3).toHaveReceivedCommandTimes(GetPublicAccessBlockCommand, 1);
    expect(record).toMatchObject({ outcome: 'compliant', account: CENTRAL });
  });

  it('never assumes a role in single-account mode, whatever account the event names', async () => {
    s3.on(GetPublicAccessBlockCommand).resolves(BLOCKED);
    const deps = capturingDeps({ mode: 'dry-run', config: sampleConfig({ region: 'eu-west-1' }) });

    const record = await lambdaRunner(publicBucket, () => deps)(inAccount(MEMBER));

    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 0);
    expect(s3).toHaveReceivedCommandTimes(GetPublicAccessBlockCommand, 1);
    expect(record.outcome).toBe('compliant');
  });
});

describe('organisation mode: member-role credentials are cached per account', () => {
  it('assumes the role once for two events of one account', async () => {
    sts.on(AssumeRoleCommand).resolves(session(MEMBER));
    s3.on(GetPublicAccessBlockCommand).resolves(BLOCKED);
    const runner = lambdaRunner(publicBucket, () => capturingDeps({ mode: 'dry-run', config: orgConfig() }));

    const first = await runner(inAccount(MEMBER, { id: 'e-1' }));
    const second = await runner(inAccount(MEMBER, { id: 'e-2', region: 'us-east-1' }));

    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    expect(s3).toHaveReceivedCommandTimes(GetPublicAccessBlockCommand, 2);
    expect([first.outcome, second.outcome]).toEqual(['compliant', 'compliant']);
  });

  it('renews credentials that expire within five minutes before the next event uses them', async () => {
    sts.on(AssumeRoleCommand).resolvesOnce(session(MEMBER, 4)).resolves(session(MEMBER, 60));
    s3.on(GetPublicAccessBlockCommand).resolves(BLOCKED);
    const runner = lambdaRunner(publicBucket, () => capturingDeps({ mode: 'dry-run', config: orgConfig() }));

    await runner(inAccount(MEMBER, { id: 'e-1' }));
    await runner(inAccount(MEMBER, { id: 'e-2' }));
    await runner(inAccount(MEMBER, { id: 'e-3' }));

    // e-1 assumed; its session had 4 minutes left, so e-2 assumed again; e-3 reused e-2's hour-long session.
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 2);
    expect(s3).toHaveReceivedCommandTimes(GetPublicAccessBlockCommand, 3);
  });

  it('keeps one client per account: credentials never mix', () => {
    const base = { region: 'eu-west-1', endpoint: undefined, readOnly: true };
    const config = orgConfig();
    const a = accountAccess(config.organization, MEMBER, publicBucket, base);
    const b = accountAccess(config.organization, OTHER_MEMBER, publicBucket, base);

    expect(s3Client({ ...base, account: a })).toBe(s3Client({ ...base, account: a }));
    expect(s3Client({ ...base, account: a })).not.toBe(s3Client({ ...base, account: b }));
    expect(s3Client({ ...base, account: a })).not.toBe(s3Client(base));
    expect(accountAccess(config.organization, CENTRAL, publicBucket, base)).toBeUndefined();
  });
});

describe('organisation mode: a member account without the role', () => {
  it('fails with "role X not assumable in account Y", alerts, and neither reads nor retries', async () => {
    sts.on(AssumeRoleCommand).rejects(ACCESS_DENIED);
    const deps = capturingDeps({ mode: 'live', config: orgConfig() });

    const record = await lambdaRunner(publicBucket, () => deps)(inAccount(MEMBER));

    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    expect(s3).toHaveReceivedCommandTimes(GetPublicAccessBlockCommand, 0);
    expect(record).toMatchObject({
      outcome: 'failed',
      account: MEMBER,
      reason: expect.stringContaining(`role trailguard-remediation not assumable in account ${MEMBER}`),
      error: { kind: 'denied', code: 'AccessDenied', api: 'STS.AssumeRole', permission: 'sts:AssumeRole' },
      notification: { status: 'sent' },
    });
    expect(record.reason).toContain(`sts:AssumeRole on ${MEMBER_ROLE} was denied`);
    // The record and the alert still name the bucket the event was about.
    expect(record.resources).toEqual([expect.objectContaining({ type: 'AWS::S3::Bucket' })]);
    expect(deps.published[0]?.subject).not.toContain('unknown');
    expect(deps.published[0]?.attributes).toMatchObject({ outcome: 'failed', account: MEMBER });
    expect(deps.published[0]?.text).toContain(`not assumable in account ${MEMBER}`);
  });
});

describe('organisation mode: the loop guard across accounts', () => {
  /** A PutBucketPublicAccessBlock with all four flags on: the call public-bucket itself makes to fix a bucket. */
  const OWN_FIX = 'ignored.remediator-own-call';
  const remediatorInMember = {
    type: 'AssumedRole',
    principalId: 'AROAEXAMPLEMEMBER:trailguard-public-bucket',
    accountId: MEMBER,
    arn: `arn:aws:sts::${MEMBER}:assumed-role/trailguard-remediation/trailguard-public-bucket`,
    sessionContext: { sessionIssuer: { type: 'Role', arn: MEMBER_ROLE, accountId: MEMBER, userName: 'trailguard-remediation' } },
  };

  it("ignores the member role's own calls in a member account, without assuming anything", async () => {
    const deps = capturingDeps({ mode: 'live', config: orgConfig() });

    const record = await lambdaRunner(publicBucket, () => deps)(inAccount(MEMBER, { actor: remediatorInMember, sample: OWN_FIX }));

    expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('caused by trailguard itself (role trailguard-remediation)') });
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 0);
  });

  it("takes the member role's name for trailguard only in its own account and for a call trailguard makes", async () => {
    const fromElsewhere = { ...remediatorInMember, accountId: '999988887777', arn: 'arn:aws:sts::999988887777:assumed-role/trailguard-remediation/x' };
    const elsewhere = await lambdaRunner(publicBucket, () => capturingDeps({ config: orgConfig() }))(
      inAccount(MEMBER, { actor: fromElsewhere, sample: OWN_FIX }),
    );
    // PutBucketAcl is no call trailguard makes: whoever holds a role of that name, it is judged.
    const notOurs = await lambdaRunner(publicBucket, () => capturingDeps({ config: orgConfig() }))(inAccount(MEMBER, { actor: remediatorInMember }));

    expect(elsewhere.reason).not.toContain('caused by trailguard itself');
    expect(notOurs).toMatchObject({ outcome: 'would-remediate' });
  });

  it('recognises a renamed member role, and only in organisation mode', async () => {
    const renamed = { ...remediatorInMember, sessionContext: { sessionIssuer: { type: 'Role', userName: 'sec-remediator' } } };
    const org = await lambdaRunner(publicBucket, () => capturingDeps({ config: orgConfig({ memberRoleName: 'sec-remediator' }) }))(
      inAccount(MEMBER, { actor: renamed, sample: OWN_FIX }),
    );
    const single = await lambdaRunner(publicBucket, () => capturingDeps({ config: sampleConfig() }))(inAccount(MEMBER, { actor: renamed, sample: OWN_FIX }));

    expect(org).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('role sec-remediator') });
    expect(single.outcome).toBe('compliant'); // offline: decided from the request, not taken for trailguard
    expect(single.reason).not.toContain('caused by trailguard itself');
  });

  it("judges the member role's PutBucketPublicAccessBlock that turns flags off: not what trailguard writes", async () => {
    const flagsOff = await lambdaRunner(publicBucket, () => capturingDeps({ config: orgConfig() }))(
      inAccount(MEMBER, { actor: remediatorInMember, sample: 'would-remediate.put-public-access-block-flags-false' }),
    );
    const ownFix = await lambdaRunner(publicBucket, () => capturingDeps({ config: orgConfig() }))(
      inAccount(MEMBER, { actor: remediatorInMember, sample: OWN_FIX }),
    );

    expect(flagsOff).toMatchObject({ outcome: 'would-remediate' });
    expect(flagsOff.reason).not.toContain('caused by trailguard itself');
    expect(ownFix).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('caused by trailguard itself (role trailguard-remediation)') });
  });
});

describe('organisation mode: replay of events from several accounts', () => {
  it("acts in each event's account, assuming each member role once, and names the account in every record", async () => {
    sts.on(AssumeRoleCommand, { RoleArn: MEMBER_ROLE }).resolves(session(MEMBER));
    sts.on(AssumeRoleCommand, { RoleArn: `arn:aws:iam::${OTHER_MEMBER}:role/trailguard-remediation` }).resolves(session(OTHER_MEMBER));
    s3.on(GetPublicAccessBlockCommand).resolves(BLOCKED);
    const deps = capturingDeps({ mode: 'dry-run', config: orgConfig() });
    const events = [
      inAccount(MEMBER, { id: 'r-1' }),
      inAccount(OTHER_MEMBER, { id: 'r-2', region: 'ap-southeast-2' }),
      inAccount(CENTRAL, { id: 'r-3' }),
      inAccount(MEMBER, { id: 'r-4', region: 'us-east-1' }),
      inAccount(OTHER_MEMBER, { id: 'r-5' }),
    ];

    const records = [];
    for (const event of events) records.push(...(await routeEvent(RULES, event, deps)));

    expect(records.map((r) => [r.account, r.region, r.outcome])).toEqual([
      [MEMBER, 'eu-west-1', 'compliant'],
      [OTHER_MEMBER, 'ap-southeast-2', 'compliant'],
      [CENTRAL, 'eu-west-1', 'compliant'],
      [MEMBER, 'us-east-1', 'compliant'],
      [OTHER_MEMBER, 'eu-west-1', 'compliant'],
    ]);
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.RoleArn)).toEqual([
      MEMBER_ROLE,
      `arn:aws:iam::${OTHER_MEMBER}:role/trailguard-remediation`,
    ]);
    const ownClient = s3Client({ region: 'eu-west-1', endpoint: deps.config.endpoint, readOnly: true });
    const readers = await Promise.all(
      s3.commandCalls(GetPublicAccessBlockCommand).map(async (c) => {
        const client = c.thisValue as S3Client;
        return [await client.config.region(), client === ownClient ? 'own role' : (await client.config.credentials()).accessKeyId];
      }),
    );
    expect(readers).toEqual([
      ['eu-west-1', `ASIA${MEMBER}`],
      ['ap-southeast-2', `ASIA${OTHER_MEMBER}`],
      ['eu-west-1', 'own role'],
      ['us-east-1', `ASIA${MEMBER}`],
      ['eu-west-1', `ASIA${OTHER_MEMBER}`],
    ]);
  });
});

describe("organisation mode: what stays in trailguard's own account", () => {
  it("tags a member account's instances through the member role, but schedules the stop check in its own account", () => {
    const own = { region: 'eu-west-1', endpoint: undefined, readOnly: false };
    const account = accountAccess(orgConfig().organization, MEMBER, untaggedInstance, own);
    const clients = untaggedInstance.clients({ ...own, account });

    expect(clients.ec2).toBe(ec2Client({ ...own, account }));
    expect(clients.ec2).not.toBe(ec2Client(own));
    expect(clients.scheduler('eu-west-1')).toBe(schedulerClient(own));
  });

  it("names the session after the rule, within STS's 64 characters", () => {
    expect(sessionNameFor('public-bucket')).toBe('trailguard-public-bucket');
    expect(sessionNameFor('x'.repeat(80))).toMatch(/^trailguard-x+$/);
    expect(sessionNameFor('x'.repeat(80))).toHaveLength(64);
  });
});
