import {
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DescribeImageAttributeCommand,
  DescribeSnapshotAttributeCommand,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
  RegisterImageCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateAccountCommand,
  CreateOrganizationCommand,
  DescribeCreateAccountStatusCommand,
  DescribeOrganizationCommand,
  OrganizationsClient,
} from '@aws-sdk/client-organizations';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { ACCOUNT, aws, ENDPOINT, REGION } from '../../e2e/helpers/emulator.js';
import { sampleEvent } from '../../e2e/helpers/events.js';
import { invokeHandler } from '../../e2e/helpers/invoke.js';
import { freshStackPerTest } from '../../e2e/helpers/stack.js';
import { reverseRecord } from '../../e2e/helpers/reverse.js';

const stack = freshStackPerTest();
const env = stack.env;
const OUTSIDE = '444455556666';
/** Shared before the event, by someone else: the event is no evidence about it, so it stays. */
const EARLIER = '777766665555';

async function newSnapshot(): Promise<string> {
  const volume = await aws.ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, Size: 1 }));
  return (await aws.ec2.send(new CreateSnapshotCommand({ VolumeId: volume.VolumeId ?? '', Description: 'e2e data' }))).SnapshotId ?? '';
}

async function newImage(): Promise<string> {
  const image = await aws.ec2.send(new RegisterImageCommand({ Name: `e2e-golden-${Date.now()}`, RootDeviceName: '/dev/xvda', Architecture: 'x86_64' }));
  return image.ImageId ?? '';
}

const snapshotShares = async (id: string) =>
  ((await aws.ec2.send(new DescribeSnapshotAttributeCommand({ SnapshotId: id, Attribute: 'createVolumePermission' }))).CreateVolumePermissions ?? [])
    .map((p) => p.UserId ?? p.Group)
    .sort();
const imageShares = async (id: string) =>
  ((await aws.ec2.send(new DescribeImageAttributeCommand({ ImageId: id, Attribute: 'launchPermission' }))).LaunchPermissions ?? [])
    .map((p) => p.UserId ?? p.Group)
    .sort();

const reverse = (record: RemediationRecord) => reverseRecord(record, { ec2: aws.ec2 });

describe('shared-image-snapshot against the emulator', () => {
  it('live: removes the outside account and public from a snapshot, keeps an earlier share, and the reversal re-adds exactly them', async () => {
    const id = await newSnapshot();
    await aws.ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: id, Attribute: 'createVolumePermission', OperationType: 'add', UserIds: [EARLIER] }));
    await aws.ec2.send(
      new ModifySnapshotAttributeCommand({
        SnapshotId: id,
        Attribute: 'createVolumePermission',
        OperationType: 'add',
        UserIds: [OUTSIDE],
        GroupNames: ['all'],
      }),
    );
    const event = sampleEvent('shared-image-snapshot', 'would-remediate.snapshot-shared-with-outside-account', {
      requestParameters: {
        snapshotId: id,
        attributeType: 'CREATE_VOLUME_PERMISSION',
        createVolumePermission: { add: { items: [{ userId: OUTSIDE }, { group: 'all' }] } },
      },
    });

    const { record } = await invokeHandler('shared-image-snapshot', event, env('live'));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'CRITICAL',
      actions: [
        {
          api: 'EC2.ModifySnapshotAttribute',
          status: 'done',
          params: { SnapshotId: id, OperationType: 'remove', UserIds: [OUTSIDE], GroupNames: ['all'] },
          previous: { CreateVolumePermissions: [{ UserId: OUTSIDE }, { Group: 'all' }] },
          verification: { ok: true },
        },
      ],
      notification: { status: 'sent' },
    });
    expect(await snapshotShares(id)).toEqual([EARLIER]);
    expect(await stack.received()).toMatchObject([
      { attributes: { rule: 'shared-image-snapshot', severity: 'CRITICAL', outcome: 'remediated', account: ACCOUNT } },
    ]);

    await reverse(record);
    expect(await snapshotShares(id)).toEqual([OUTSIDE, EARLIER, 'all'].sort());
  });

  it('dry-run: plans the remove for a snapshot and changes nothing', async () => {
    const id = await newSnapshot();
    await aws.ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: id, Attribute: 'createVolumePermission', OperationType: 'add', UserIds: [OUTSIDE] }));
    const event = sampleEvent('shared-image-snapshot', 'would-remediate.snapshot-shared-with-outside-account', {
      requestParameters: { snapshotId: id, attributeType: 'CREATE_VOLUME_PERMISSION', createVolumePermission: { add: { items: [{ userId: OUTSIDE }] } } },
    });

    const { record } = await invokeHandler('shared-image-snapshot', event, env('dry-run'));

    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ status: 'planned' }] });
    expect(await snapshotShares(id)).toEqual([OUTSIDE]);
  });

  it('live: is compliant when the share is already gone', async () => {
    const id = await newSnapshot();
    const event = sampleEvent('shared-image-snapshot', 'would-remediate.snapshot-shared-with-outside-account', {
      requestParameters: { snapshotId: id, attributeType: 'CREATE_VOLUME_PERMISSION', createVolumePermission: { add: { items: [{ userId: OUTSIDE }] } } },
    });

    const { record } = await invokeHandler('shared-image-snapshot', event, env('live'));

    expect(record).toMatchObject({ outcome: 'compliant', actions: [] });
  });

  it('live: removes public and the outside account from an AMI, keeps an earlier share, and the reversal re-adds exactly them', async () => {
    const id = await newImage();
    await aws.ec2.send(new ModifyImageAttributeCommand({ ImageId: id, LaunchPermission: { Add: [{ UserId: EARLIER }] } }));
    await aws.ec2.send(new ModifyImageAttributeCommand({ ImageId: id, LaunchPermission: { Add: [{ Group: 'all' }, { UserId: OUTSIDE }] } }));
    const event = sampleEvent('shared-image-snapshot', 'would-remediate.image-made-public-console', {
      requestParameters: { imageId: id, attributeType: 'launchPermission', launchPermission: { add: { items: [{ group: 'all' }, { userId: OUTSIDE }] } } },
    });

    const { record } = await invokeHandler('shared-image-snapshot', event, env('live'));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'CRITICAL',
      actions: [
        {
          api: 'EC2.ModifyImageAttribute',
          status: 'done',
          params: { ImageId: id, LaunchPermission: { Remove: [{ Group: 'all' }, { UserId: OUTSIDE }] } },
          verification: { ok: true },
        },
      ],
    });
    expect(await imageShares(id)).toEqual([EARLIER]);

    await reverse(record);
    expect(await imageShares(id)).toEqual([OUTSIDE, EARLIER, 'all'].sort());
  });
});

describe('shared-image-snapshot against the emulator: what the review found', () => {
  it('live: removes every grantee of one item naming public and an account, and reads both back as gone', async () => {
    const id = await newSnapshot();
    // The emulator takes the flat form only; the event is what CloudTrail logs for one item naming both.
    await aws.ec2.send(
      new ModifySnapshotAttributeCommand({
        SnapshotId: id,
        Attribute: 'createVolumePermission',
        OperationType: 'add',
        UserIds: [OUTSIDE],
        GroupNames: ['all'],
      }),
    );
    const event = sampleEvent('shared-image-snapshot', 'would-remediate.snapshot-made-public', {
      requestParameters: {
        snapshotId: id,
        attributeType: 'CREATE_VOLUME_PERMISSION',
        createVolumePermission: { add: { items: [{ group: 'all', userId: OUTSIDE }] } },
      },
    });

    const { record } = await invokeHandler('shared-image-snapshot', event, env('live'));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'CRITICAL',
      actions: [{ status: 'done', params: { SnapshotId: id, UserIds: [OUTSIDE], GroupNames: ['all'] }, verification: { ok: true } }],
    });
    expect(await snapshotShares(id)).toEqual([]);
  });

  it("live, single-account mode: leaves an AMI shared with an organisation (maybe the account's own) and alerts", async () => {
    const id = await newImage();
    const org = `arn:aws:organizations::${ACCOUNT}:organization/o-a1b2c3d4e5`;
    await aws.ec2.send(new ModifyImageAttributeCommand({ ImageId: id, LaunchPermission: { Add: [{ OrganizationArn: org }] } }));
    const event = sampleEvent('shared-image-snapshot', 'alerted.image-shared-with-an-organization-single-account', {
      requestParameters: { imageId: id, attributeType: 'launchPermission', launchPermission: { add: { items: [{ organizationArn: org }] } } },
    });

    const { record } = await invokeHandler('shared-image-snapshot', event, env('live'));

    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'shared-unjudged', actions: [] });
    expect(record.reason).toContain(`${org}: no organization is configured`);
    const launch = await aws.ec2.send(new DescribeImageAttributeCommand({ ImageId: id, Attribute: 'launchPermission' }));
    expect(launch.LaunchPermissions).toEqual([{ OrganizationArn: org }]);
  });
});

const organizations = new OrganizationsClient({
  region: REGION,
  endpoint: ENDPOINT,
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  maxAttempts: 1,
});

/**
 * The emulator's organisation, with the test account as its management account (the central account here, so
 * ListAccounts answers), created once and reused: an account belongs to one organisation.
 */
async function theOrganization(): Promise<string> {
  try {
    return (await organizations.send(new DescribeOrganizationCommand({}))).Organization?.Id ?? '';
  } catch (error) {
    if ((error as Error).name !== 'AWSOrganizationsNotInUseException') throw error;
    return (await organizations.send(new CreateOrganizationCommand({ FeatureSet: 'ALL' }))).Organization?.Id ?? '';
  }
}

/** A new member account of the organisation: its id. */
async function newMemberAccount(): Promise<string> {
  const name = `e2e-member-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const created = await organizations.send(new CreateAccountCommand({ AccountName: name, Email: `${name}@example.com` }));
  const status = await organizations.send(new DescribeCreateAccountStatusCommand({ CreateAccountRequestId: created.CreateAccountStatus?.Id ?? '' }));
  const id = status.CreateAccountStatus?.AccountId ?? created.CreateAccountStatus?.AccountId ?? '';
  expect(id).toMatch(/^\d{12}$/);
  return id;
}

describe("shared-image-snapshot in organisation mode against the emulator: the organisation's accounts", () => {
  // Organisation mode with the test account as the central account: its events use the function's own role.
  const inOrganization = async () => {
    vi.stubEnv('TRAILGUARD_ORG_ID', await theOrganization());
    vi.stubEnv('TRAILGUARD_CENTRAL_ACCOUNT_ID', ACCOUNT);
  };
  afterEach(() => vi.unstubAllEnvs());
  const shareEvent = (id: string, account: string) =>
    sampleEvent('shared-image-snapshot', 'would-remediate.snapshot-shared-with-outside-account', {
      requestParameters: { snapshotId: id, attributeType: 'CREATE_VOLUME_PERMISSION', createVolumePermission: { add: { items: [{ userId: account }] } } },
    });

  it('live: leaves a snapshot shared with an account of the organisation (read with ListAccounts)', async () => {
    await inOrganization();
    const member = await newMemberAccount();
    const id = await newSnapshot();
    await aws.ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: id, Attribute: 'createVolumePermission', OperationType: 'add', UserIds: [member] }));

    const { record } = await invokeHandler('shared-image-snapshot', shareEvent(id, member), env('live'));

    expect(record).toMatchObject({ outcome: 'compliant', actions: [] });
    expect(record.reason).toContain(`${member} is an account of the organisation`);
    expect(await snapshotShares(id)).toEqual([member]);
  });

  it('live: removes an account outside the organisation, saying it is outside the organisation', async () => {
    await inOrganization();
    await newMemberAccount(); // the organisation has members: the outside account is still not one of them
    const id = await newSnapshot();
    await aws.ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: id, Attribute: 'createVolumePermission', OperationType: 'add', UserIds: [OUTSIDE] }));

    const { record } = await invokeHandler('shared-image-snapshot', shareEvent(id, OUTSIDE), env('live'));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'HIGH',
      finding: 'shared-outside',
      actions: [{ api: 'EC2.ModifySnapshotAttribute', status: 'done', params: { SnapshotId: id, UserIds: [OUTSIDE] }, verification: { ok: true } }],
    });
    expect(record.reason).toContain(`${OUTSIDE} is outside the organisation and not in trustedAccounts`);
    expect(await snapshotShares(id)).toEqual([]);
  });
});
