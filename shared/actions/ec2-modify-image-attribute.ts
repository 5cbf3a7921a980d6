/**
 * EC2.ModifyImageAttribute of `launchPermission`: removes the accounts, organisations, OUs (or `all`) an AMI was
 * shared with outside (shared-image-snapshot), and, for undo, adds back exactly the ones it removed.
 */
import { DescribeImageAttributeCommand, ModifyImageAttributeCommand, type EC2Client } from '@aws-sdk/client-ec2';
import * as v from 'valibot';
import { isAccountId, regionArg } from '../aws/names.js';
import { organizationOfArn } from '../outside.js';
import { awsCommand, checked } from '../shell.js';
import { reverseStepOf, type ActionType, type Reversal, type SelfSignature } from './action.js';

const IMAGE_ID = /^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
export const ImageId = v.pipe(v.string(), v.regex(IMAGE_ID, 'an image id (ami- and 8 or 17 hex digits)'));
const AccountId = v.pipe(v.string(), v.check(isAccountId, 'a 12-digit account id'));
const OrgArn = v.pipe(
  v.string(),
  v.check((arn) => organizationOfArn(arn) !== undefined, 'an organization or OU ARN'),
);

/** One launch permission, as the SDK and DescribeImageAttribute name it. */
export const LaunchPermission = v.union([
  v.strictObject({ UserId: AccountId }),
  v.strictObject({ Group: v.literal('all') }),
  v.strictObject({ OrganizationArn: OrgArn }),
  v.strictObject({ OrganizationalUnitArn: OrgArn }),
]);
export type LaunchPermission = v.InferOutput<typeof LaunchPermission>;
const Permissions = v.pipe(v.array(LaunchPermission), v.minLength(1, 'at least one launch permission'));

export const ModifyImageAttributeParams = v.strictObject({
  ImageId,
  LaunchPermission: v.union([v.strictObject({ Remove: Permissions }), v.strictObject({ Add: Permissions })]),
});
export type ModifyImageAttributeParams = v.InferOutput<typeof ModifyImageAttributeParams>;

/** The launch permissions a remove took away: what undo adds back. */
export const ImageSharingPrevious = v.strictObject({ LaunchPermissions: v.array(LaunchPermission) });
export type ImageSharingPrevious = v.InferOutput<typeof ImageSharingPrevious>;

/** A launch permission as one string: the account id, `all`, or the ARN. */
export const permissionLabel = (p: { UserId?: string; Group?: string; OrganizationArn?: string; OrganizationalUnitArn?: string }): string =>
  p.UserId ?? p.Group ?? p.OrganizationArn ?? p.OrganizationalUnitArn ?? 'unknown';

/** The image's launch permissions now. */
export async function imagePermissions(ec2: EC2Client, imageId: string) {
  const result = await ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }));
  return result.LaunchPermissions ?? [];
}

/** A remove only ever narrows who may launch the image: any remove by trailguard's roles is its own. */
export const modifyImageAttributeSignature = {
  api: 'EC2.ModifyImageAttribute',
  eventName: 'ModifyImageAttribute',
  isOwnWrite: (request) => {
    const change = (request as { launchPermission?: { add?: unknown } } | null)?.launchPermission;
    const operation = (request as { operationType?: unknown } | null)?.operationType;
    // The flat form (`operationType: add` and a top-level list) adds too, whatever its case.
    const adds = typeof operation === 'string' && operation.toLowerCase() === 'add';
    return change !== undefined && change !== null && change.add === undefined && !adds;
  },
} as const satisfies SelfSignature;

const listOf = (params: ModifyImageAttributeParams) => ('Remove' in params.LaunchPermission ? params.LaunchPermission.Remove : params.LaunchPermission.Add);

export const modifyImageAttribute = {
  api: 'EC2.ModifyImageAttribute',
  iam: 'ec2:ModifyImageAttribute',
  clients: ['ec2'],
  params: ModifyImageAttributeParams,
  previous: ImageSharingPrevious,
  // Undo's add is a share shared-image-snapshot acts on: it would be removed again unless exempted.
  retriggers: true,
  signature: modifyImageAttributeSignature,
  async perform({ params }, { ec2 }) {
    await ec2.send(new ModifyImageAttributeCommand(params));
  },
  async verify({ params }, { ec2 }) {
    // A described permission may name several grantees at once: each counts.
    const held = new Set(
      (await imagePermissions(ec2, params.ImageId)).flatMap((p) =>
        [p.UserId, p.Group, p.OrganizationArn, p.OrganizationalUnitArn].filter((who) => who !== undefined),
      ),
    );
    const removing = 'Remove' in params.LaunchPermission;
    const wanted = listOf(params).map(permissionLabel);
    const wrong = wanted.filter((who) => held.has(who) === removing);
    if (wrong.length === 0) return { ok: true, detail: `${params.ImageId} reads back ${removing ? 'without' : 'with'} ${wanted.join(', ')}` };
    return { ok: false, detail: `${params.ImageId} ${removing ? 'is still shared with' : 'lacks'} ${wrong.join(', ')}` };
  },
  reverse({ params, previous, resource, region }): Reversal {
    if (!('Remove' in params.LaunchPermission)) {
      return { kind: 'none', why: "an operator's undo: to remediate again, remove its exemption and replay the event with --mode live" };
    }
    if (!previous || previous.LaunchPermissions.length === 0) {
      return { kind: 'none', why: 'the record has no removed permissions in previous.LaunchPermissions: nothing known to add back' };
    }
    const add: ModifyImageAttributeParams = { ImageId: params.ImageId, LaunchPermission: { Add: previous.LaunchPermissions } };
    return { kind: 'steps', steps: [reverseStepOf(modifyImageAttribute, { ...resource, region }, add, { LaunchPermissions: [] })] };
  },
  command: ({ params, region }) =>
    awsCommand('ec2', 'modify-image-attribute', {
      region: regionArg(region),
      imageId: checked(params.ImageId, 'image id', (id) => IMAGE_ID.test(id)),
      // Every value validated by the params schema (ids, `all`, organisation ARNs): JSON of them, single-quoted.
      launchPermission: JSON.stringify(params.LaunchPermission),
    }),
  describe: ({ params }) =>
    'Remove' in params.LaunchPermission
      ? `stop sharing image ${params.ImageId} with ${listOf(params).map(permissionLabel).join(', ')}`
      : `share image ${params.ImageId} again with ${listOf(params).map(permissionLabel).join(', ')}`,
} as const satisfies ActionType<ModifyImageAttributeParams, ImageSharingPrevious, 'ec2'>;
