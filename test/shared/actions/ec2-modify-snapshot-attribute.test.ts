import { DescribeSnapshotAttributeCommand, EC2Client, ModifySnapshotAttributeCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stepOf, stepOfReverse, type Step } from '../../../shared/actions/action.js';
import {
  modifySnapshotAttribute,
  modifySnapshotAttributeSignature,
  type ModifySnapshotAttributeParams,
  type SnapshotSharingPrevious,
} from '../../../shared/actions/ec2-modify-snapshot-attribute.js';

const ec2 = mockClient(EC2Client);
const clients = { ec2: new EC2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }) };
const SNAPSHOT = 'snap-0123456789abcdef0';
const RESOURCE = { type: 'AWS::EC2::Snapshot', id: SNAPSHOT };
const REMOVE = { SnapshotId: SNAPSHOT, Attribute: 'createVolumePermission', OperationType: 'remove', UserIds: ['444455556666'], GroupNames: ['all'] };
const PREVIOUS = { CreateVolumePermissions: [{ UserId: '444455556666' }, { Group: 'all' }] };

const stepFor = (params: unknown, previous: unknown = PREVIOUS) =>
  stepOf(modifySnapshotAttribute, { api: modifySnapshotAttribute.api, resource: RESOURCE, params, previous }, 'eu-west-1') as Step<
    ModifySnapshotAttributeParams,
    SnapshotSharingPrevious
  >;

beforeEach(() => {
  ec2.reset();
  ec2.rejects(new Error('unexpected EC2 call'));
});
afterEach(() => ec2.reset());

describe('EC2.ModifySnapshotAttribute params', () => {
  it.each([
    { ...REMOVE, SnapshotId: "snap-0123' --dry-run" },
    { ...REMOVE, UserIds: ['4444555566'] },
    { ...REMOVE, GroupNames: ['everyone'] },
    { ...REMOVE, UserIds: [], GroupNames: [] },
    { ...REMOVE, Attribute: 'productCodes' },
  ])('refuses %j before any call', (params) => {
    expect(() => stepFor(params)).toThrow(expect.objectContaining({ kind: 'invalid', code: 'InvalidActionParams' }));
  });
});

describe('EC2.ModifySnapshotAttribute perform, verify, reverse', () => {
  it('sends the flat form with exactly the named accounts and groups', async () => {
    ec2.on(ModifySnapshotAttributeCommand).resolves({});

    await modifySnapshotAttribute.perform(stepFor(REMOVE), clients);

    expect(ec2.commandCalls(ModifySnapshotAttributeCommand).map((c) => c.args[0].input)).toEqual([REMOVE]);
  });

  it('reads back a remove as done only when none of them is left', async () => {
    ec2
      .on(DescribeSnapshotAttributeCommand)
      .resolvesOnce({ CreateVolumePermissions: [{ UserId: '999988887777' }] })
      .resolves({ CreateVolumePermissions: [{ Group: 'all' }] });

    expect(await modifySnapshotAttribute.verify(stepFor(REMOVE), clients)).toEqual({ ok: true, detail: `${SNAPSHOT} reads back without 444455556666, all` });
    expect(await modifySnapshotAttribute.verify(stepFor(REMOVE), clients)).toEqual({ ok: false, detail: `${SNAPSHOT} is still shared with all` });
  });

  it('reverses a remove by adding back exactly what it removed, and an add not at all', () => {
    const reversal = modifySnapshotAttribute.reverse(stepFor(REMOVE));
    if (reversal.kind !== 'steps') throw new Error(`expected steps, got ${reversal.kind}`);
    const [step] = reversal.steps;
    if (!step) throw new Error('no step');
    expect(step.action.params).toEqual({
      SnapshotId: SNAPSHOT,
      Attribute: 'createVolumePermission',
      OperationType: 'add',
      UserIds: ['444455556666'],
      GroupNames: ['all'],
    });
    expect(step.type.command(stepOfReverse(step))).toBe(
      `aws ec2 modify-snapshot-attribute --region 'eu-west-1' --snapshot-id '${SNAPSHOT}' --attribute 'createVolumePermission' --operation-type 'add' --user-ids '444455556666' --group-names 'all'`,
    );
    expect(modifySnapshotAttribute.reverse(stepFor(REMOVE, { CreateVolumePermissions: [] })).kind).toBe('none');
    expect(modifySnapshotAttribute.reverse(stepFor({ ...REMOVE, OperationType: 'add' })).kind).toBe('none');
  });

  it("knows a remove as trailguard's own write, never an add", () => {
    expect(
      modifySnapshotAttributeSignature.isOwnWrite({ snapshotId: SNAPSHOT, createVolumePermission: { remove: { items: [{ userId: '444455556666' }] } } }),
    ).toBe(true);
    expect(modifySnapshotAttributeSignature.isOwnWrite({ snapshotId: SNAPSHOT, createVolumePermission: { add: { items: [{ group: 'all' }] } } })).toBe(false);
    expect(modifySnapshotAttributeSignature.isOwnWrite({ snapshotId: SNAPSHOT, operationType: 'add' })).toBe(false);
    expect(modifySnapshotAttributeSignature.isOwnWrite({ snapshotId: SNAPSHOT, operationType: 'ADD', userId: ['444455556666'] })).toBe(false);
  });

  it('reads back every grantee of a described item naming a user and a group at once', async () => {
    ec2.on(DescribeSnapshotAttributeCommand).resolves({ CreateVolumePermissions: [{ UserId: '999988887777', Group: 'all' }] });

    expect(await modifySnapshotAttribute.verify(stepFor(REMOVE), clients)).toEqual({ ok: false, detail: `${SNAPSHOT} is still shared with all` });
  });
});
