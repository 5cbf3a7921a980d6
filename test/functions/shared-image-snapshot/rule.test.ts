import {
  DescribeImageAttributeCommand,
  DescribeSnapshotAttributeCommand,
  EC2Client,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import { ListAccountsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sharedImageSnapshot } from '../../../functions/shared-image-snapshot/rule.js';
import { reversalCommands, reversalOf } from '../../../shared/actions/reversal.js';
import { resetOrganizationsClients } from '../../../shared/aws/organizations.js';
import { resetAssumedRoleSessions } from '../../../shared/aws/sts.js';
import { ACTION_TYPES } from '../../../shared/actions/registry.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const ec2 = mockClient(EC2Client);
const organizations = mockClient(OrganizationsClient);
const OUTSIDE = '444455556666';
const TRUSTED = '999988887777';
const SNAPSHOT = 'snap-0123456789abcdef0';

beforeEach(() => {
  ec2.reset();
  ec2.rejects(new Error('unexpected EC2 call')); // unmocked calls fail loudly
  organizations.reset();
  organizations.rejects(new Error('unexpected Organizations call'));
  // Each test starts with no organisation read: the accounts are cached per container (per client).
  resetOrganizationsClients();
});
afterEach(() => {
  ec2.reset();
  organizations.reset();
});

const sample = (name: string) => loadSample(sharedImageSnapshot.id, name);
const snapshotShare = (items: unknown, id = SNAPSHOT) =>
  withDetail(sample('would-remediate.snapshot-shared-with-outside-account'), {
    requestParameters: { snapshotId: id, attributeType: 'CREATE_VOLUME_PERMISSION', createVolumePermission: { add: { items } } },
  });
const imageShare = (items: unknown) =>
  withDetail(sample('would-remediate.image-made-public-console'), {
    requestParameters: { imageId: 'ami-0123456789abcdef0', attributeType: 'launchPermission', launchPermission: { add: { items } } },
  });
const runOffline = (event: unknown, config = sampleConfig()) => run(sharedImageSnapshot, event, capturingDeps({ config }));

describe('shared-image-snapshot offline: from the request alone', () => {
  it('plans to remove a named outside account from a snapshot, HIGH, keeping it as previous', async () => {
    const { record } = await runSample(sharedImageSnapshot, 'would-remediate.snapshot-shared-with-outside-account');

    expect(record).toMatchObject({
      outcome: 'would-remediate',
      severity: 'HIGH',
      finding: 'shared-outside',
      resources: [{ type: 'AWS::EC2::Snapshot', id: SNAPSHOT }],
      actions: [
        {
          api: 'EC2.ModifySnapshotAttribute',
          params: { SnapshotId: SNAPSHOT, Attribute: 'createVolumePermission', OperationType: 'remove', UserIds: [OUTSIDE] },
          previous: { CreateVolumePermissions: [{ UserId: OUTSIDE }] },
        },
      ],
    });
    expect(record.reason).toContain(`shared outside: ${OUTSIDE} is outside the account and not in trustedAccounts`);
  });

  it('calls a public snapshot CRITICAL and names Security Hub EC2.1', async () => {
    const { record, deps } = await runSample(sharedImageSnapshot, 'would-remediate.snapshot-made-public');

    expect(record).toMatchObject({
      severity: 'CRITICAL',
      finding: 'snapshot-public',
      actions: [{ params: { OperationType: 'remove', GroupNames: ['all'] }, previous: { CreateVolumePermissions: [{ Group: 'all' }] } }],
    });
    expect(deps.published[0]?.text).toContain('EC2.1 Amazon EBS snapshots should not be publicly restorable');
  });

  it('calls a public image CRITICAL, with no Security Hub control', async () => {
    const { record } = await runSample(sharedImageSnapshot, 'would-remediate.image-made-public-console');

    expect(record).toMatchObject({
      severity: 'CRITICAL',
      finding: 'image-public',
      actions: [{ api: 'EC2.ModifyImageAttribute', params: { ImageId: 'ami-0123456789abcdef0', LaunchPermission: { Remove: [{ Group: 'all' }] } } }],
    });
  });

  it('removes only the outside account when the same call also shares with a trusted one', async () => {
    const { record } = await runSample(sharedImageSnapshot, 'would-remediate.image-shared-with-outside-and-trusted-accounts');

    expect(record.actions).toMatchObject([
      { params: { LaunchPermission: { Remove: [{ UserId: OUTSIDE }] } }, previous: { LaunchPermissions: [{ UserId: OUTSIDE }] } },
    ]);
    expect(record.reason).toContain(`left shared (inside): ${TRUSTED} is in trustedAccounts`);
  });

  it('reads a one-item list CloudTrail logged as a bare object', async () => {
    const { record } = await runSample(sharedImageSnapshot, 'would-remediate.snapshot-one-item-logged-as-object');

    expect(record.actions).toMatchObject([{ params: { UserIds: [OUTSIDE] } }]);
  });

  it('treats another organisation as outside and this one as inside (organisation mode), and in single-account mode alerts, removing nothing', async () => {
    const ORG_SAMPLE = 'alerted.image-shared-with-an-organization-single-account';
    const single = await runSample(sharedImageSnapshot, ORG_SAMPLE);
    expect(single.record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'shared-unjudged', actions: [] });
    expect(single.record.reason).toContain("no organization is configured, so whether it is this account's own could not be told");

    const ours = await runOffline(sample(ORG_SAMPLE), sampleConfig({ organization: { organizationId: 'o-zz9yy8xx7w', centralAccountId: '123456789012' } }));
    expect(ours).toMatchObject({ outcome: 'compliant' });
    expect(ours.reason).toContain("is this organisation's");

    const other = await runOffline(sample(ORG_SAMPLE), sampleConfig({ organization: { organizationId: 'o-a1b2c3d4e5', centralAccountId: '123456789012' } }));
    expect(other).toMatchObject({
      outcome: 'would-remediate',
      severity: 'HIGH',
      actions: [{ params: { LaunchPermission: { Remove: [{ OrganizationArn: expect.stringContaining('o-zz9yy8xx7w') }] } } }],
    });
  });

  it("in organisation mode offline, counts the central account inside and alerts, removing nothing, on an account it could not judge, saying the organisation's accounts were not read", async () => {
    const config = sampleConfig({ organization: { organizationId: 'o-zz9yy8xx7w', centralAccountId: '123456789012' } });

    expect(await runOffline(snapshotShare([{ userId: '123456789012' }]), config)).toMatchObject({ outcome: 'compliant' });
    const record = await runOffline(snapshotShare([{ userId: OUTSIDE }]), config);
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', actions: [] });
    expect(record.reason).toContain("the organisation's accounts could not be read (offline: no calls");
  });

  it('counts the account itself as inside', async () => {
    expect(await runOffline(snapshotShare([{ userId: '111122223333' }]))).toMatchObject({ outcome: 'compliant' });
  });

  it('is compliant for a trusted vendor, a removal and another attribute', async () => {
    for (const name of ['compliant.snapshot-shared-with-trusted-vendor', 'compliant.snapshot-sharing-removed', 'compliant.image-description-changed']) {
      const { record } = await runSample(sharedImageSnapshot, name);
      expect(record.outcome, name).toBe('compliant');
      expect(record.actions, name).toEqual([]);
    }
  });

  it('ignores a call that failed, saying so', async () => {
    const { record } = await runSample(sharedImageSnapshot, 'ignored.snapshot-made-public-unauthorized');

    expect(record.outcome).toBe('ignored');
    expect(record.reason).toContain('Client.UnauthorizedOperation');
  });

  it('keeps an exempt image shared', async () => {
    const { record } = await runSample(sharedImageSnapshot, 'exempt.image-public-community-ami');

    expect(record).toMatchObject({ outcome: 'exempt', actions: [] });
  });

  it.each([
    [[{ userId: '4444-5555-6666' }], 'requestParameters.createVolumePermission.add.items.0.userId'],
    [[{ group: 'everyone' }], 'requestParameters.createVolumePermission.add.items.0.group'],
    [[{ something: 'else' }], 'requestParameters.createVolumePermission.add.items.0'],
    [[{ userId: '444455556666' }, { organizationArn: 'arn:aws:organizations::555566667777:organization/o-zz9yy8xx7w' }], 'createVolumePermission.add.items.1'],
  ])('refuses a permission EC2 would not have taken (%j), naming the field, without a plan', async (items, field) => {
    const record = await runOffline(snapshotShare(items));

    expect(record.actions).toEqual([]);
    expect(record.outcome).not.toBe('would-remediate');
    expect(JSON.stringify(record)).toContain(field);
  });

  it('refuses a flat-form add it cannot read, rather than calling it "adds nothing"', async () => {
    const event = withDetail(sample('would-remediate.snapshot-shared-with-outside-account'), {
      requestParameters: { snapshotId: SNAPSHOT, attributeType: 'CREATE_VOLUME_PERMISSION', operationType: 'add' },
    });
    const record = await runOffline(event);

    expect(record.outcome).not.toBe('compliant');
    expect(JSON.stringify(record)).toContain('createVolumePermission.add.items');
  });

  it('refuses a snapshot id that is not one before any plan', async () => {
    const record = await runOffline(snapshotShare([{ userId: OUTSIDE }], "snap-0123' --dry-run"));

    expect(record.actions).toEqual([]);
    expect(record.outcome).not.toBe('would-remediate');
  });
});

describe('shared-image-snapshot dry-run and live: from the permissions now', () => {
  it('dry-run reads the permissions and writes nothing', async () => {
    ec2.on(DescribeSnapshotAttributeCommand).resolves({ SnapshotId: SNAPSHOT, CreateVolumePermissions: [{ UserId: OUTSIDE }] });

    const { record } = await runSample(sharedImageSnapshot, 'would-remediate.snapshot-shared-with-outside-account', { mode: 'dry-run' });

    expect(record.outcome).toBe('would-remediate');
    expect(ec2.commandCalls(ModifySnapshotAttributeCommand)).toHaveLength(0);
  });

  it('live removes exactly the outside account, reads it back, and the reversal re-adds exactly it', async () => {
    ec2
      .on(DescribeSnapshotAttributeCommand)
      .resolvesOnce({ SnapshotId: SNAPSHOT, CreateVolumePermissions: [{ UserId: OUTSIDE }, { UserId: TRUSTED }] })
      .resolves({ SnapshotId: SNAPSHOT, CreateVolumePermissions: [{ UserId: TRUSTED }] });
    ec2.on(ModifySnapshotAttributeCommand).resolves({});

    const { record, deps } = await runSample(sharedImageSnapshot, 'would-remediate.snapshot-shared-with-outside-account', { mode: 'live' });

    expect(ec2.commandCalls(ModifySnapshotAttributeCommand).map((c) => c.args[0].input)).toEqual([
      { SnapshotId: SNAPSHOT, Attribute: 'createVolumePermission', OperationType: 'remove', UserIds: [OUTSIDE] },
    ]);
    expect(record).toMatchObject({
      outcome: 'remediated',
      actions: [{ status: 'done', previous: { CreateVolumePermissions: [{ UserId: OUTSIDE }] }, verification: { ok: true } }],
    });
    const action = record.actions[0];
    if (!action) throw new Error('no action');
    const reversal = reversalOf(ACTION_TYPES, record, action);
    expect(reversalCommands(reversal)).toEqual([
      `aws ec2 modify-snapshot-attribute --region 'eu-west-1' --snapshot-id '${SNAPSHOT}' --attribute 'createVolumePermission' --operation-type 'add' --user-ids '${OUTSIDE}'`,
    ]);
    expect(deps.published[0]?.text).toContain(`Shared outside with: ${OUTSIDE}`);
  });

  it('is compliant, with no write, when the permission the event added is already gone', async () => {
    ec2.on(DescribeSnapshotAttributeCommand).resolves({ SnapshotId: SNAPSHOT, CreateVolumePermissions: [] });

    const { record } = await runSample(sharedImageSnapshot, 'would-remediate.snapshot-shared-with-outside-account', { mode: 'live' });

    expect(record).toMatchObject({ outcome: 'compliant', actions: [] });
    expect(record.reason).toContain(`no longer shared with ${OUTSIDE}`);
    expect(ec2.commandCalls(ModifySnapshotAttributeCommand)).toHaveLength(0);
  });

  it('never removes a permission the event did not add, even an outside one', async () => {
    ec2
      .on(DescribeImageAttributeCommand)
      .resolvesOnce({ LaunchPermissions: [{ Group: 'all' }, { UserId: '777766665555' }] })
      .resolves({ LaunchPermissions: [{ UserId: '777766665555' }] });
    ec2.on(ModifyImageAttributeCommand).resolves({});

    const record = await run(sharedImageSnapshot, imageShare([{ group: 'all' }]), capturingDeps({ mode: 'live' }));

    expect(ec2.commandCalls(ModifyImageAttributeCommand).map((c) => c.args[0].input)).toEqual([
      { ImageId: 'ami-0123456789abcdef0', LaunchPermission: { Remove: [{ Group: 'all' }] } },
    ]);
    expect(record).toMatchObject({ outcome: 'remediated', severity: 'CRITICAL' });
  });

  it('fails when the read-back still shows the share', async () => {
    ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [{ Group: 'all' }] });
    ec2.on(ModifyImageAttributeCommand).resolves({});

    const record = await run(sharedImageSnapshot, imageShare([{ group: 'all' }]), capturingDeps({ mode: 'live' }));

    expect(record).toMatchObject({ outcome: 'failed', actions: [{ verification: { ok: false, detail: 'ami-0123456789abcdef0 is still shared with all' } }] });
  });
});

describe("shared-image-snapshot in organisation mode: the organisation's accounts (Organizations ListAccounts)", () => {
  const CENTRAL = '111122223333'; // the samples' own account: its events use the function's own role, no AssumeRole
  const MEMBER = OUTSIDE; // the account the sample shares with, a member of the organisation in these tests
  const orgConfig = () => sampleConfig({ organization: { organizationId: 'o-zz9yy8xx7w', centralAccountId: CENTRAL } });
  const shareSample = () => sample('would-remediate.snapshot-shared-with-outside-account');
  const sharedWith = (...ids: string[]) => ({ SnapshotId: SNAPSHOT, CreateVolumePermissions: ids.map((UserId) => ({ UserId })) });

  it('leaves a snapshot shared with an account of the organisation, read over every page, and writes nothing', async () => {
    ec2.on(DescribeSnapshotAttributeCommand).resolves(sharedWith(MEMBER));
    organizations
      .on(ListAccountsCommand, {})
      .resolves({ Accounts: [{ Id: CENTRAL }, { Id: '222233334444' }], NextToken: 'page-2' })
      .on(ListAccountsCommand, { NextToken: 'page-2' })
      .resolves({ Accounts: [{ Id: MEMBER }] });

    const record = await run(sharedImageSnapshot, shareSample(), capturingDeps({ mode: 'live', config: orgConfig() }));

    expect(record).toMatchObject({ outcome: 'compliant', actions: [] });
    expect(record.reason).toContain(`${MEMBER} is an account of the organisation`);
    expect(organizations.commandCalls(ListAccountsCommand).map((c) => c.args[0].input)).toEqual([{}, { NextToken: 'page-2' }]);
    expect(ec2.commandCalls(ModifySnapshotAttributeCommand)).toHaveLength(0);
  });

  it('removes an account that is not of the organisation, and says so', async () => {
    ec2.on(DescribeSnapshotAttributeCommand).resolvesOnce(sharedWith(OUTSIDE)).resolves(sharedWith());
    ec2.on(ModifySnapshotAttributeCommand).resolves({});
    organizations.on(ListAccountsCommand).resolves({ Accounts: [{ Id: CENTRAL }, { Id: '222233334444' }] });

    const record = await run(sharedImageSnapshot, shareSample(), capturingDeps({ mode: 'live', config: orgConfig() }));

    expect(record).toMatchObject({ outcome: 'remediated', severity: 'HIGH', finding: 'shared-outside' });
    expect(record.reason).toContain(`${OUTSIDE} is outside the organisation and not in trustedAccounts`);
    expect(ec2.commandCalls(ModifySnapshotAttributeCommand).map((c) => c.args[0].input)).toEqual([
      { SnapshotId: SNAPSHOT, Attribute: 'createVolumePermission', OperationType: 'remove', UserIds: [OUTSIDE] },
    ]);
  });

  it.each([
    ['denied (the central account is neither the management account nor a delegated administrator)', 'AccessDeniedException', 403],
    ['throttled', 'TooManyRequestsException', 400],
    ['not in an organisation', 'AWSOrganizationsNotInUseException', 400],
  ])('when ListAccounts is %s, leaves a member-looking account shared and alerts, saying the accounts could not be read', async (_, code, status) => {
    ec2.on(DescribeSnapshotAttributeCommand).resolves(sharedWith(MEMBER));
    organizations.on(ListAccountsCommand).rejects(Object.assign(new Error('no'), { name: code, $metadata: { httpStatusCode: status } }));

    const record = await run(sharedImageSnapshot, shareSample(), capturingDeps({ mode: 'live', config: orgConfig() }));

    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'shared-unjudged', actions: [] });
    expect(record.reason).toContain(
      `${MEMBER} is not in trustedAccounts, and the organisation's accounts could not be read (Organizations ListAccounts failed: ${code})`,
    );
    expect(ec2.commandCalls(ModifySnapshotAttributeCommand)).toHaveLength(0);
  });

  it("when ListAccounts is denied, still removes public and another organisation's share, naming the account it left shared", async () => {
    const THEIRS = 'arn:aws:organizations::555566667777:organization/o-a1b2c3d4e5';
    ec2
      .on(DescribeImageAttributeCommand)
      .resolvesOnce({ LaunchPermissions: [{ Group: 'all' }, { OrganizationArn: THEIRS }, { UserId: MEMBER }] })
      .resolves({ LaunchPermissions: [{ UserId: MEMBER }] });
    ec2.on(ModifyImageAttributeCommand).resolves({});
    organizations.on(ListAccountsCommand).rejects(Object.assign(new Error('no'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }));

    const record = await run(
      sharedImageSnapshot,
      imageShare([{ group: 'all' }, { organizationArn: THEIRS }, { userId: MEMBER }]),
      capturingDeps({ mode: 'live', config: orgConfig() }),
    );

    expect(ec2.commandCalls(ModifyImageAttributeCommand).map((c) => c.args[0].input)).toEqual([
      { ImageId: 'ami-0123456789abcdef0', LaunchPermission: { Remove: [{ Group: 'all' }, { OrganizationArn: THEIRS }] } },
    ]);
    expect(record).toMatchObject({ outcome: 'remediated', severity: 'CRITICAL' });
    expect(record.reason).toContain(`left shared, not judged (could not tell whether inside): ${MEMBER} is not in trustedAccounts`);
  });

  it('keeps a trusted account shared without needing the organisation, even when ListAccounts is denied', async () => {
    ec2.on(DescribeSnapshotAttributeCommand).resolves(sharedWith(TRUSTED));
    organizations.on(ListAccountsCommand).rejects(Object.assign(new Error('no'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }));

    const record = await run(sharedImageSnapshot, snapshotShare([{ userId: TRUSTED }]), capturingDeps({ mode: 'live', config: orgConfig() }));

    expect(record).toMatchObject({ outcome: 'compliant', actions: [] });
    expect(record.reason).toContain(`${TRUSTED} is in trustedAccounts`);
  });

  it('reads the accounts once per container for events of any Region, from the global endpoint, and a failure once per minute', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(new Date('2026-12-07T10:00:00Z'));
      ec2.on(DescribeSnapshotAttributeCommand).resolves(sharedWith(MEMBER));
      organizations
        .on(ListAccountsCommand)
        .rejectsOnce(Object.assign(new Error('slow down'), { name: 'TooManyRequestsException', $metadata: { httpStatusCode: 400 } }))
        .resolves({ Accounts: [{ Id: MEMBER }] });
      const deps = () => capturingDeps({ mode: 'dry-run', config: orgConfig() });
      const inRegion = (region: string) => withDetail(shareSample(), { awsRegion: region });

      const first = await run(sharedImageSnapshot, inRegion('eu-west-1'), deps());
      // Within the minute the failure is the answer: a burst of events does not re-read the organisation each.
      const burst = await run(sharedImageSnapshot, inRegion('eu-west-1'), deps());
      vi.setSystemTime(new Date('2026-12-07T10:01:00Z'));
      const second = await run(sharedImageSnapshot, inRegion('eu-west-1'), deps());
      const third = await run(sharedImageSnapshot, inRegion('ap-southeast-2'), deps());

      expect([first.outcome, burst.outcome]).toEqual(['alerted', 'alerted']);
      expect(burst.reason).toContain('Organizations ListAccounts failed: TooManyRequestsException');
      expect([second.outcome, third.outcome]).toEqual(['compliant', 'compliant']);
      const calls = organizations.commandCalls(ListAccountsCommand);
      expect(calls).toHaveLength(2);
      const client = calls[1]?.thisValue as OrganizationsClient;
      expect(await client.config.region()).toBe('us-east-1');
    } finally {
      vi.useRealTimers();
    }
  });

  it('makes no Organizations call in single-account mode, nor offline', async () => {
    ec2.on(DescribeSnapshotAttributeCommand).resolves(sharedWith(OUTSIDE));

    const single = await run(sharedImageSnapshot, shareSample(), capturingDeps({ mode: 'dry-run' }));
    const offline = await run(sharedImageSnapshot, shareSample(), capturingDeps({ mode: 'offline', config: orgConfig() }));

    expect(single.reason).toContain(`${OUTSIDE} is outside the account and not in trustedAccounts`);
    expect(offline.reason).toContain("the organisation's accounts could not be read (offline");
    expect(organizations.commandCalls(ListAccountsCommand)).toHaveLength(0);
  });

  it("lists the accounts with the central account's own role, never through a member role's session", async () => {
    const sts = mockClient(STSClient);
    try {
      resetAssumedRoleSessions();
      sts.on(AssumeRoleCommand).resolves({
        Credentials: { AccessKeyId: 'ASIAMEMBER', SecretAccessKey: 'secret', SessionToken: 'token', Expiration: new Date('2099-01-01T00:00:00Z') },
      });
      ec2.on(DescribeSnapshotAttributeCommand).resolves(sharedWith(MEMBER));
      organizations.on(ListAccountsCommand).resolves({ Accounts: [{ Id: MEMBER }] });
      const fromMember = withDetail(shareSample(), {
        recipientAccountId: '222233334444',
        userIdentity: {
          type: 'IAMUser',
          principalId: 'AIDAEXAMPLEPRINCIPAL1',
          arn: 'arn:aws:iam::222233334444:user/alice',
          accountId: '222233334444',
          userName: 'alice',
        },
      });

      await run(sharedImageSnapshot, fromMember, capturingDeps({ mode: 'dry-run', config: orgConfig() }));

      const policy = JSON.parse(String(sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input.Policy));
      expect(policy.Statement[0].Action).toEqual([
        'ec2:DescribeImageAttribute',
        'ec2:DescribeSnapshotAttribute',
        'ec2:ModifyImageAttribute',
        'ec2:ModifySnapshotAttribute',
      ]);
      const client = organizations.commandCalls(ListAccountsCommand)[0]?.thisValue as OrganizationsClient;
      const ec2Client = ec2.commandCalls(DescribeSnapshotAttributeCommand)[0]?.thisValue as EC2Client;
      expect((await ec2Client.config.credentials()).accessKeyId).toBe('ASIAMEMBER');
      // The function's own credentials come from its environment (the Lambda runtime's, here stubbed).
      vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIACENTRALROLE');
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
      expect((await client.config.credentials()).accessKeyId).toBe('AKIACENTRALROLE');
    } finally {
      vi.unstubAllEnvs();
      sts.restore();
      resetAssumedRoleSessions();
    }
  });
});

describe('shared-image-snapshot review findings: every grantee, every shape, once', () => {
  const THEIRS = 'arn:aws:organizations::555566667777:organization/o-a1b2c3d4e5';
  const OWN = '111122223333'; // the samples' own account

  it('removes every grantee of an item naming several (group all and an account), and the record keeps both', async () => {
    ec2
      .on(DescribeSnapshotAttributeCommand)
      .resolvesOnce({ SnapshotId: SNAPSHOT, CreateVolumePermissions: [{ Group: 'all' }, { UserId: OUTSIDE }] })
      .resolves({ SnapshotId: SNAPSHOT, CreateVolumePermissions: [] });
    ec2.on(ModifySnapshotAttributeCommand).resolves({});

    const record = await run(sharedImageSnapshot, snapshotShare([{ group: 'all', userId: OUTSIDE }]), capturingDeps({ mode: 'live' }));

    expect(ec2.commandCalls(ModifySnapshotAttributeCommand).map((c) => c.args[0].input)).toEqual([
      { SnapshotId: SNAPSHOT, Attribute: 'createVolumePermission', OperationType: 'remove', UserIds: [OUTSIDE], GroupNames: ['all'] },
    ]);
    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'CRITICAL',
      actions: [{ previous: { CreateVolumePermissions: [{ Group: 'all' }, { UserId: OUTSIDE }] }, verification: { ok: true } }],
    });
  });

  it('fails when the read-back still shows any removed grantee, also one described in a combined item', async () => {
    ec2
      .on(DescribeSnapshotAttributeCommand)
      .resolvesOnce({ SnapshotId: SNAPSHOT, CreateVolumePermissions: [{ Group: 'all' }, { UserId: OUTSIDE }] })
      .resolves({ SnapshotId: SNAPSHOT, CreateVolumePermissions: [{ Group: 'all', UserId: OUTSIDE }] });
    ec2.on(ModifySnapshotAttributeCommand).resolves({});

    const record = await run(sharedImageSnapshot, snapshotShare([{ group: 'all', userId: OUTSIDE }]), capturingDeps({ mode: 'live' }));

    expect(record).toMatchObject({ outcome: 'failed', actions: [{ verification: { ok: false, detail: `${SNAPSHOT} is still shared with ${OUTSIDE}, all` } }] });
  });

  it("judges an image item's organisation on its own, not by the item's inside account", async () => {
    const config = sampleConfig({ organization: { organizationId: 'o-zz9yy8xx7w', centralAccountId: OWN } });

    const record = await runOffline(imageShare([{ userId: OWN, organizationArn: THEIRS }]), config);

    expect(record).toMatchObject({
      outcome: 'would-remediate',
      severity: 'HIGH',
      actions: [{ params: { LaunchPermission: { Remove: [{ OrganizationArn: THEIRS }] } } }],
    });
    expect(record.reason).toContain(`left shared (inside): ${OWN} is the account itself`);
  });

  it('in single-account mode removes public from an image but leaves its organisation share, naming it as not judged', async () => {
    const record = await runOffline(imageShare([{ group: 'all' }, { organizationArn: THEIRS }]));

    expect(record).toMatchObject({
      outcome: 'would-remediate',
      severity: 'CRITICAL',
      actions: [{ params: { LaunchPermission: { Remove: [{ Group: 'all' }] } } }],
    });
    expect(record.reason).toContain(`left shared, not judged (could not tell whether inside): ${THEIRS}: no organization is configured`);
  });

  it.each([
    ['a bare list', { add: [{ userId: OUTSIDE }] }, {}],
    ['the XML form {item: [...]}', { add: { item: [{ userId: OUTSIDE }] } }, {}],
    ['the XML form {item: {...}}', { add: { item: { userId: OUTSIDE } } }, {}],
    ['the flat form, operationType ADD and a userId list', undefined, { operationType: 'ADD', userId: [OUTSIDE] }],
    ['the flat form, operationType Add and a userId item list', undefined, { operationType: 'Add', userId: { items: [{ content: OUTSIDE }] } }],
  ])('reads a share logged as %s', async (_, change, flat) => {
    const event = withDetail(sample('would-remediate.snapshot-shared-with-outside-account'), {
      requestParameters: { snapshotId: SNAPSHOT, attributeType: 'CREATE_VOLUME_PERMISSION', ...(change ? { createVolumePermission: change } : {}), ...flat },
    });

    const record = await runOffline(event);

    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ params: { UserIds: [OUTSIDE] } }] });
  });

  it.each([
    ['an add with no items', { createVolumePermission: { add: {} } }, 'createVolumePermission.add'],
    ['an add in another shape', { createVolumePermission: { add: { users: [OUTSIDE] } } }, 'createVolumePermission.add'],
    ['an add as a string', { createVolumePermission: { add: OUTSIDE } }, 'createVolumePermission.add'],
    ['operationType ADD naming no one', { operationType: 'ADD' }, 'createVolumePermission.add.items'],
    ['a flat userId that is no string', { operationType: 'add', userId: [{ id: OUTSIDE }] }, 'requestParameters.userId.0'],
  ])('fails, naming the field, on %s, never "adds nothing"', async (_, parameters, field) => {
    const event = withDetail(sample('would-remediate.snapshot-shared-with-outside-account'), {
      requestParameters: { snapshotId: SNAPSHOT, attributeType: 'CREATE_VOLUME_PERMISSION', ...parameters },
    });

    const record = await runOffline(event);

    expect(record).toMatchObject({ outcome: 'failed', actions: [] });
    expect(record.reason).toContain(field);
  });

  it('names a grantee named twice once: one remove, one previous, one mention', async () => {
    const record = await runOffline(snapshotShare([{ userId: OUTSIDE }, { userId: OUTSIDE }, { group: 'all' }, { userId: 'all' }]));

    expect(record.actions).toMatchObject([
      { params: { UserIds: [OUTSIDE], GroupNames: ['all'] }, previous: { CreateVolumePermissions: [{ UserId: OUTSIDE }, { Group: 'all' }] } },
    ]);
    expect(record.reason.split(OUTSIDE)).toHaveLength(2);
  });

  it('caps how many grantees the reason names, removing every one', async () => {
    const accounts = Array.from({ length: 500 }, (_, i) => String(400000000000 + i));

    const record = await runOffline(snapshotShare(accounts.map((userId) => ({ userId }))));

    expect(record.actions).toMatchObject([{ params: { UserIds: accounts } }]);
    expect(record.reason).toContain('… and 490 more');
    expect(record.reason.length).toBeLessThan(1000);
  });

  describe("trailguard's own remove, back through the runner", () => {
    const ROLE = 'trailguard-prod-sharedImageSnapshot-role';
    const asTrailguard = (requestParameters: unknown) =>
      withDetail(sample('would-remediate.snapshot-shared-with-outside-account'), {
        eventName: (requestParameters as { imageId?: string }).imageId ? 'ModifyImageAttribute' : 'ModifySnapshotAttribute',
        userIdentity: {
          type: 'AssumedRole',
          principalId: 'AROAEXAMPLEROLEID0001:trailguard',
          arn: `arn:aws:sts::${OWN}:assumed-role/${ROLE}/trailguard`,
          accountId: OWN,
          sessionContext: { sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${OWN}:role/${ROLE}`, accountId: OWN, userName: ROLE } },
        },
        requestParameters,
      });

    it('ignores the remove its own live run made (flat and item forms, snapshot and image), making no call', async () => {
      ec2
        .on(DescribeSnapshotAttributeCommand)
        .resolvesOnce({ SnapshotId: SNAPSHOT, CreateVolumePermissions: [{ UserId: OUTSIDE }] })
        .resolves({ SnapshotId: SNAPSHOT, CreateVolumePermissions: [] });
      ec2.on(ModifySnapshotAttributeCommand).resolves({});
      const first = await run(sharedImageSnapshot, snapshotShare([{ userId: OUTSIDE }]), capturingDeps({ mode: 'live' }));
      const written = first.actions[0]?.params as { UserIds: string[] };
      expect(first.outcome).toBe('remediated');
      ec2.resetHistory();

      for (const parameters of [
        { snapshotId: SNAPSHOT, attributeType: 'CREATE_VOLUME_PERMISSION', operationType: 'remove', userId: written.UserIds },
        {
          snapshotId: SNAPSHOT,
          attributeType: 'CREATE_VOLUME_PERMISSION',
          createVolumePermission: { remove: { items: written.UserIds.map((userId) => ({ userId })) } },
        },
        { imageId: 'ami-0123456789abcdef0', attributeType: 'launchPermission', launchPermission: { remove: { items: [{ group: 'all' }] } } },
      ]) {
        const record = await run(sharedImageSnapshot, asTrailguard(parameters), capturingDeps({ mode: 'live' }));
        expect(record.outcome, JSON.stringify(parameters)).toBe('ignored');
      }
      expect(ec2.calls()).toHaveLength(0);
    });

    it('judges an add by the same role like any caller, whatever the case of operationType', async () => {
      const record = await runOffline(
        asTrailguard({ snapshotId: SNAPSHOT, attributeType: 'CREATE_VOLUME_PERMISSION', operationType: 'ADD', userId: [OUTSIDE] }),
      );

      expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ params: { UserIds: [OUTSIDE] } }] });
    });
  });
});
