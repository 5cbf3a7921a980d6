/**
 * EC2.ModifySnapshotAttribute of `createVolumePermission`: removes the accounts (or `all`) a snapshot was shared with
 * outside (shared-image-snapshot), and, for undo, adds back exactly the ones it removed.
 */
import { DescribeSnapshotAttributeCommand, ModifySnapshotAttributeCommand, type EC2Client } from '@aws-sdk/client-ec2';
import * as v from 'valibot';
import { isAccountId, regionArg } from '../aws/names.js';
import { awsCommand, checked } from '../shell.js';
import { reverseStepOf, type ActionType, type Reversal, type SelfSignature } from './action.js';

const SNAPSHOT_ID = /^snap-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
export const SnapshotId = v.pipe(v.string(), v.regex(SNAPSHOT_ID, 'a snapshot id (snap- and 8 or 17 hex digits)'));
const AccountId = v.pipe(v.string(), v.check(isAccountId, 'a 12-digit account id'));

/**
 * The flat form (`OperationType`, `UserIds`, `GroupNames`): EC2 takes it as it takes `CreateVolumePermission`, and
 * it names exactly the accounts and groups changed. `all` is the only group EC2 has.
 */
export const ModifySnapshotAttributeParams = v.pipe(
  v.strictObject({
    SnapshotId,
    Attribute: v.literal('createVolumePermission'),
    OperationType: v.picklist(['add', 'remove']),
    UserIds: v.optional(v.array(AccountId)),
    GroupNames: v.optional(v.array(v.literal('all'))),
  }),
  v.check((p) => (p.UserIds?.length ?? 0) + (p.GroupNames?.length ?? 0) > 0, 'at least one user id or group'),
);
export type ModifySnapshotAttributeParams = v.InferOutput<typeof ModifySnapshotAttributeParams>;

/** The permissions a remove took away, as DescribeSnapshotAttribute lists them: what undo adds back. */
export const VolumePermission = v.union([v.strictObject({ UserId: AccountId }), v.strictObject({ Group: v.literal('all') })]);
export type VolumePermission = v.InferOutput<typeof VolumePermission>;
export const SnapshotSharingPrevious = v.strictObject({ CreateVolumePermissions: v.array(VolumePermission) });
export type SnapshotSharingPrevious = v.InferOutput<typeof SnapshotSharingPrevious>;

/** The snapshot's create-volume permissions now. */
export async function snapshotPermissions(ec2: EC2Client, snapshotId: string): Promise<readonly { UserId?: string; Group?: string }[]> {
  const result = await ec2.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snapshotId, Attribute: 'createVolumePermission' }));
  return result.CreateVolumePermissions ?? [];
}

const named = (p: ModifySnapshotAttributeParams) => [...(p.UserIds ?? []), ...(p.GroupNames ?? []).map(() => 'all')];

/** A remove only ever narrows who may use the snapshot: any remove by trailguard's roles is its own. */
export const modifySnapshotAttributeSignature = {
  api: 'EC2.ModifySnapshotAttribute',
  eventName: 'ModifySnapshotAttribute',
  isOwnWrite: (request) => {
    const change = (request as { createVolumePermission?: { add?: unknown } } | null)?.createVolumePermission;
    const operation = (request as { operationType?: unknown } | null)?.operationType;
    return change?.add === undefined && !(typeof operation === 'string' && operation.toLowerCase() === 'add');
  },
} as const satisfies SelfSignature;

export const modifySnapshotAttribute = {
  api: 'EC2.ModifySnapshotAttribute',
  iam: 'ec2:ModifySnapshotAttribute',
  clients: ['ec2'],
  params: ModifySnapshotAttributeParams,
  previous: SnapshotSharingPrevious,
  // Undo's add is a share shared-image-snapshot acts on: it would be removed again unless exempted.
  retriggers: true,
  signature: modifySnapshotAttributeSignature,
  async perform({ params }, { ec2 }) {
    await ec2.send(new ModifySnapshotAttributeCommand(params));
  },
  async verify({ params }, { ec2 }) {
    const now = await snapshotPermissions(ec2, params.SnapshotId);
    // A described permission may name a user and a group at once: each counts.
    const held = new Set(now.flatMap((p) => [p.UserId, p.Group].filter((who) => who !== undefined)));
    const wanted = named(params);
    const wrong = params.OperationType === 'remove' ? wanted.filter((who) => held.has(who)) : wanted.filter((who) => !held.has(who));
    if (wrong.length === 0) {
      return { ok: true, detail: `${params.SnapshotId} reads back ${params.OperationType === 'remove' ? 'without' : 'with'} ${wanted.join(', ')}` };
    }
    return { ok: false, detail: `${params.SnapshotId} ${params.OperationType === 'remove' ? 'is still shared with' : 'lacks'} ${wrong.join(', ')}` };
  },
  reverse({ params, previous, resource, region }): Reversal {
    if (params.OperationType === 'add')
      return { kind: 'none', why: "an operator's undo: to remediate again, remove its exemption and replay the event with --mode live" };
    if (!previous || previous.CreateVolumePermissions.length === 0) {
      return { kind: 'none', why: 'the record has no removed permissions in previous.CreateVolumePermissions: nothing known to add back' };
    }
    const users = previous.CreateVolumePermissions.flatMap((p) => ('UserId' in p ? [p.UserId] : []));
    const groups = previous.CreateVolumePermissions.flatMap((p) => ('Group' in p ? [p.Group] : []));
    const add: ModifySnapshotAttributeParams = {
      SnapshotId: params.SnapshotId,
      Attribute: 'createVolumePermission',
      OperationType: 'add',
      ...(users.length > 0 ? { UserIds: users } : {}),
      ...(groups.length > 0 ? { GroupNames: groups } : {}),
    };
    return { kind: 'steps', steps: [reverseStepOf(modifySnapshotAttribute, { ...resource, region }, add, { CreateVolumePermissions: [] })] };
  },
  command: ({ params, region }) =>
    awsCommand('ec2', 'modify-snapshot-attribute', {
      region: regionArg(region),
      snapshotId: checked(params.SnapshotId, 'snapshot id', (id) => SNAPSHOT_ID.test(id)),
      attribute: 'createVolumePermission',
      operationType: params.OperationType,
      userIds: params.UserIds && params.UserIds.length > 0 ? params.UserIds.map((id) => checked(id, 'account id', isAccountId)) : undefined,
      groupNames: params.GroupNames && params.GroupNames.length > 0 ? params.GroupNames : undefined,
    }),
  describe: ({ params }) =>
    params.OperationType === 'remove'
      ? `stop sharing snapshot ${params.SnapshotId} with ${named(params).join(', ')}`
      : `share snapshot ${params.SnapshotId} again with ${named(params).join(', ')}`,
} as const satisfies ActionType<ModifySnapshotAttributeParams, SnapshotSharingPrevious, 'ec2'>;
