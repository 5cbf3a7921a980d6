import type { EC2Client } from '@aws-sdk/client-ec2';
import * as v from 'valibot';
import { permissionsOf, planOf } from '../../shared/actions/action.js';
import { imagePermissions, modifyImageAttribute, type LaunchPermission } from '../../shared/actions/ec2-modify-image-attribute.js';
import { modifySnapshotAttribute, snapshotPermissions, type VolumePermission } from '../../shared/actions/ec2-modify-snapshot-attribute.js';
import { ec2Client } from '../../shared/aws/ec2.js';
import { organizationAccounts } from '../../shared/aws/organizations.js';
import { awsCall } from '../../shared/aws/errors.js';
import type { Config } from '../../shared/config.js';
import type { ControlId } from '../../shared/controls.js';
import { ParseError } from '../../shared/errors.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import {
  granteeLabel,
  orgWithoutReading,
  outsidePolicyOf,
  sharingTitle,
  sharingVerdict,
  sameGrantee,
  type Grantee,
  type OrgAccounts,
  type OutsidePolicy,
} from '../../shared/outside.js';
import {
  alert,
  compliant,
  violation,
  whereOf,
  type Decision,
  type Message,
  type PlannedAction,
  type ResourceRef,
  type Rule,
  type RunContext,
} from '../../shared/rule.js';
import pattern from './pattern.json' with { type: 'json' };

/** What the event says: which snapshot or image, and whom the call added to its permissions. */
export interface ShareFacts {
  readonly kind: 'snapshot' | 'image';
  readonly resources: readonly [ResourceRef];
  readonly added: readonly Grantee[];
}

/** The permissions as they are now (dry-run and live), and the organisation's accounts as far as they were read. */
export interface ShareState {
  readonly permissions: readonly Grantee[];
  readonly org: OrgAccounts;
}

/** `orgAccounts`: the organisation's accounts, read with the function's own (central) credentials, cached per container. */
type Clients = { readonly ec2: EC2Client; readonly orgAccounts: () => Promise<OrgAccounts> };
type Settings = { readonly enabled: boolean; readonly outside: OutsidePolicy };

const ACTIONS = [modifySnapshotAttribute, modifyImageAttribute];
const LIST_ACCOUNTS = 'Organizations.ListAccounts';
const TYPES = { snapshot: 'AWS::EC2::Snapshot', image: 'AWS::EC2::Image' } as const;

/**
 * Public (a snapshot, matched by Security Hub EC2.1; an image, matched by no control), a named outside account, or
 * (alerted, left shared) a grantee it could not tell inside or outside.
 */
export const FINDINGS = ['snapshot-public', 'image-public', 'shared-outside', 'shared-unjudged'] as const;
type Finding = (typeof FINDINGS)[number];

// CloudTrail logs a list as `{ items: [...] }`; a one-element list is sometimes a bare object.
const Item = v.looseObject({
  userId: v.optional(v.string()),
  group: v.optional(v.string()),
  organizationArn: v.optional(v.string()),
  organizationalUnitArn: v.optional(v.string()),
});
type Item = v.InferOutput<typeof Item>;
// `add`/`remove` are read loosely here: which list form they came in is told apart in itemsOf, and an `add` in a
// form not read there is refused (never "adds nothing").
const Change = v.optional(v.nullable(v.looseObject({ add: v.optional(v.unknown()), remove: v.optional(v.unknown()) })));
const SnapshotRequest = v.looseObject({
  snapshotId: v.pipe(v.string(), v.regex(/^snap-[0-9a-f]{8,17}$/, 'expected a snapshot id')),
  createVolumePermission: Change,
});
const ImageRequest = v.looseObject({ imageId: v.pipe(v.string(), v.regex(/^ami-[0-9a-f]{8,17}$/, 'expected an image id')), launchPermission: Change });

/**
 * Every grantee one logged permission names: EC2 takes an item naming several (`{ group: 'all', userId }`), and
 * each counts on its own. A value EC2 would not have taken is refused, naming the field.
 */
function granteesOf(item: Item, field: string, eventId: string | null): Grantee[] {
  const grantees: Grantee[] = [];
  if (item.group !== undefined) {
    if (item.group !== 'all') throw new ParseError(`${field}.group`, 'expected all', eventId);
    grantees.push({ kind: 'public' });
  }
  if (item.userId !== undefined) {
    if (item.userId === 'all') grantees.push({ kind: 'public' });
    else if (/^\d{12}$/.test(item.userId)) grantees.push({ kind: 'account', id: item.userId });
    else throw new ParseError(`${field}.userId`, 'expected a 12-digit account id', eventId);
  }
  if (item.organizationArn !== undefined) grantees.push({ kind: 'organization', arn: checkedArn(item.organizationArn, `${field}.organizationArn`, eventId) });
  if (item.organizationalUnitArn !== undefined)
    grantees.push({ kind: 'ou', arn: checkedArn(item.organizationalUnitArn, `${field}.organizationalUnitArn`, eventId) });
  if (grantees.length === 0) throw new ParseError(field, 'names no userId, group, organizationArn or organizationalUnitArn', eventId);
  return grantees;
}

function checkedArn(arn: string, field: string, eventId: string | null): string {
  if (/^arn:aws[a-z-]*:organizations::\d{12}:(organization|ou)\/o-[a-z0-9]{10,32}(\/ou-[a-z0-9-]{4,70})?$/.test(arn)) return arn;
  throw new ParseError(field, 'expected an organization or OU ARN', eventId);
}

/**
 * The items of a logged list, with the path each was read at: `{ items: [...] }` (the JSON form), `{ item: [...] }`
 * (the XML form turned into JSON), a bare array, and a one-item list logged as the bare object. Anything else is
 * undefined: the caller refuses it rather than read "nothing".
 */
function itemsOf(list: unknown, field: string): { readonly at: string; readonly value: unknown }[] | undefined {
  const each = (values: unknown, at: string) => (Array.isArray(values) ? values.map((value, i) => ({ at: `${at}.${i}`, value })) : [{ at, value: values }]);
  if (Array.isArray(list)) return each(list, field);
  if (typeof list !== 'object' || list === null) return undefined;
  const record = list as Record<string, unknown>;
  if (record.items !== undefined && record.items !== null) return each(record.items, `${field}.items`);
  if (record.item !== undefined && record.item !== null) return each(record.item, `${field}.item`);
  return undefined;
}

// The flat form's lists (`UserId.N`/`UserGroup.N`, the SDK's `UserIds`/`GroupNames`), as CloudTrail may name them.
const FLAT_USERS = ['userId', 'userIds'] as const;
const FLAT_GROUPS = ['userGroup', 'groupNames', 'group'] as const;

function flatAddedOf(request: Record<string, unknown>, eventId: string | null): { at: string; value: Item }[] {
  const strings = (key: string): { at: string; text: string }[] => {
    const value = request[key];
    if (value === undefined || value === null) return [];
    const listed = typeof value === 'string' ? [{ at: key, value }] : itemsOf(value, key);
    if (!listed) throw new ParseError(`detail.requestParameters.${key}`, 'is in a form not read here', eventId);
    return listed.map(({ at, value: one }) => {
      // The XML form turned into JSON may wrap each value as `{ content }`.
      const text = typeof one === 'object' && one !== null ? (one as { content?: unknown }).content : one;
      if (typeof text !== 'string') throw new ParseError(`detail.requestParameters.${at}`, 'expected a string', eventId);
      return { at: `detail.requestParameters.${at}`, text };
    });
  };
  return [
    ...FLAT_USERS.flatMap((key) => strings(key).map(({ at, text }) => ({ at, value: { userId: text } }))),
    ...FLAT_GROUPS.flatMap((key) => strings(key).map(({ at, text }) => ({ at, value: { group: text } }))),
  ];
}

const keyOf = (g: Grantee) => `${g.kind}:${granteeLabel(g)}`;
/** Each grantee once, in the order first named: a repeated one is one permission, one remove, one line. */
const unique = (grantees: readonly Grantee[]) => [...new Map(grantees.map((g) => [keyOf(g), g])).values()];

function addedOf(change: v.InferOutput<typeof Change>, request: Record<string, unknown>, field: string, eventId: string | null): Grantee[] {
  const isAdd = typeof request.operationType === 'string' && request.operationType.toLowerCase() === 'add';
  const add = change?.add;
  const read: { at: string; value: unknown }[] = [];
  if (add !== undefined && add !== null) {
    const items = itemsOf(add, `${field}.add`);
    // An add present but not read must not pass as "adds nothing".
    if (!items || items.length === 0) throw new ParseError(`${field}.add`, 'has no items in a form read here ({items}, {item} or a list)', eventId);
    read.push(...items);
  }
  if (isAdd) read.push(...flatAddedOf(request, eventId));
  if (isAdd && read.length === 0) throw new ParseError(`${field}.add.items`, 'is missing (operationType add names no one)', eventId);
  const grantees = read.flatMap(({ at, value }) => {
    const item = v.safeParse(Item, value);
    if (!item.success) throw new ParseError(at, 'expected a permission object', eventId);
    return granteesOf(item.output, at, eventId);
  });
  // Snapshots are shared with accounts or `all` only: an organisation in a snapshot's record is no call EC2 took.
  const org = read.find(({ value }) => typeof value === 'object' && value !== null && ('organizationArn' in value || 'organizationalUnitArn' in value));
  if (field.endsWith('createVolumePermission') && org) throw new ParseError(org.at, 'expected a userId or group', eventId);
  return unique(grantees);
}

const label = (facts: ShareFacts) => `${facts.kind} ${facts.resources[0].id}`;

const toVolumePermission = (g: Grantee): VolumePermission[] => (g.kind === 'public' ? [{ Group: 'all' }] : g.kind === 'account' ? [{ UserId: g.id }] : []);
const toLaunchPermission = (g: Grantee): LaunchPermission => {
  switch (g.kind) {
    case 'public':
      return { Group: 'all' };
    case 'account':
      return { UserId: g.id };
    case 'organization':
      return { OrganizationArn: g.arn };
    case 'ou':
      return { OrganizationalUnitArn: g.arn };
  }
};

/** The remove of exactly these grantees, with them as `previous` (what undo adds back). */
function planRemove(facts: ShareFacts, targets: readonly Grantee[]): PlannedAction {
  const resource = facts.resources[0];
  if (facts.kind === 'snapshot') {
    const permissions = targets.flatMap(toVolumePermission);
    const users = permissions.flatMap((p) => ('UserId' in p ? [p.UserId] : []));
    const groups = permissions.flatMap((p) => ('Group' in p ? [p.Group] : []));
    return planOf(
      modifySnapshotAttribute,
      resource,
      {
        SnapshotId: resource.id,
        Attribute: 'createVolumePermission',
        OperationType: 'remove',
        ...(users.length > 0 ? { UserIds: users } : {}),
        ...(groups.length > 0 ? { GroupNames: groups } : {}),
      },
      { CreateVolumePermissions: permissions },
    );
  }
  const permissions = targets.map(toLaunchPermission);
  return planOf(modifyImageAttribute, resource, { ImageId: resource.id, LaunchPermission: { Remove: permissions } }, { LaunchPermissions: permissions });
}

/** Every grantee a described permission names (each field on its own, as granteesOf reads the event's). */
function fromSdk(p: { UserId?: string; Group?: string; OrganizationArn?: string; OrganizationalUnitArn?: string }): Grantee[] {
  return [
    ...(p.Group === 'all' || p.UserId === 'all' ? [{ kind: 'public' } as const] : []),
    ...(p.UserId && p.UserId !== 'all' ? [{ kind: 'account', id: p.UserId } as const] : []),
    ...(p.OrganizationArn ? [{ kind: 'organization', arn: p.OrganizationArn } as const] : []),
    ...(p.OrganizationalUnitArn ? [{ kind: 'ou', arn: p.OrganizationalUnitArn } as const] : []),
  ];
}

function decide(facts: ShareFacts, state: ShareState | undefined, settings: Settings, context: RunContext): Decision {
  if (facts.added.length === 0) return compliant(`the call shares ${label(facts)} with no one new (it removes, or changes another attribute)`, facts.resources);
  const org = state?.org ?? orgWithoutReading(settings.outside, "offline: no calls, so the organisation's accounts were not read");
  const view = { policy: settings.outside, ownAccount: whereOf(context).account, org };
  // Dry-run and live decide from the permissions now: one removed since (by a person, or an earlier run) is not removed again.
  const held = (grantee: Grantee) => !state || state.permissions.some((p) => sameGrantee(p, grantee));
  const verdict = sharingVerdict(label(facts), facts.added, (grantee) => grantee, held, view);
  switch (verdict.kind) {
    case 'inside':
    case 'gone':
      return compliant(verdict.reason, facts.resources);
    case 'unjudged':
      return alert(verdict.reason, 'HIGH', facts.resources, 'shared-unjudged');
    case 'outside':
      return violation(
        verdict.reason,
        verdict.isPublic ? 'CRITICAL' : 'HIGH',
        facts.resources,
        [planRemove(facts, verdict.targets)],
        verdict.isPublic ? (facts.kind === 'snapshot' ? 'snapshot-public' : 'image-public') : 'shared-outside',
      );
  }
}

async function inspect(facts: ShareFacts, { ec2, orgAccounts }: Clients, _context: unknown, settings: Settings): Promise<ShareState> {
  const id = facts.resources[0].id;
  const permissions =
    facts.kind === 'snapshot'
      ? await awsCall('EC2.DescribeSnapshotAttribute', id, () => snapshotPermissions(ec2, id))
      : await awsCall('EC2.DescribeImageAttribute', id, () => imagePermissions(ec2, id));
  // Single-account mode has no organisation to read. A failed read (not the management account nor a delegated
  // administrator, throttled) is `unread`: a named account not otherwise inside is then left shared and alerted, saying why.
  const org: OrgAccounts = settings.outside.organization ? await orgAccounts() : { kind: 'single-account' };
  return { permissions: permissions.flatMap(fromSdk), org };
}

const Previous = v.union([
  v.object({ CreateVolumePermissions: v.array(v.object({ UserId: v.optional(v.string()), Group: v.optional(v.string()) })) }),
  v.object({ LaunchPermissions: v.array(v.record(v.string(), v.string())) }),
]);

export const sharedImageSnapshot = {
  id: 'shared-image-snapshot',
  controls: { byFinding: { 'snapshot-public': ['EC2.1'] } satisfies Partial<Record<Finding, readonly ControlId[]>> },
  pattern: pattern as EventPattern,
  permissions: {
    'EC2.DescribeSnapshotAttribute': 'ec2:DescribeSnapshotAttribute',
    'EC2.DescribeImageAttribute': 'ec2:DescribeImageAttribute',
    [LIST_ACCOUNTS]: 'organizations:ListAccounts',
    ...permissionsOf(ACTIONS),
  },
  // The organisation's accounts are listed from the central account (organisation mode only): no member role holds it.
  ownAccountApis: [LIST_ACCOUNTS],
  actions: ACTIONS,
  settings: (config: Config) => ({ ...config.rules['shared-image-snapshot'], outside: outsidePolicyOf(config) }),
  clients: (options) => ({
    ec2: ec2Client(options),
    orgAccounts: organizationAccounts({ region: options.region, endpoint: options.endpoint, readOnly: options.readOnly }),
  }),
  parse({ record, event }): ShareFacts {
    if (record.eventName === 'ModifySnapshotAttribute') {
      const r = parseWith(SnapshotRequest, record.requestParameters, 'detail.requestParameters', event.id);
      const added = addedOf(r.createVolumePermission, r, 'detail.requestParameters.createVolumePermission', event.id);
      return { kind: 'snapshot', resources: [{ type: TYPES.snapshot, id: r.snapshotId }], added };
    }
    const r = parseWith(ImageRequest, record.requestParameters, 'detail.requestParameters', event.id);
    const added = addedOf(r.launchPermission, r, 'detail.requestParameters.launchPermission', event.id);
    return { kind: 'image', resources: [{ type: TYPES.image, id: r.imageId }], added };
  },
  inspect,
  decide,
  message(record): Message {
    const resource = record.resources[0];
    const what = resource ? `${resource.type === TYPES.image ? 'image' : 'snapshot'} ${resource.id}` : 'unknown snapshot or image';
    const previous = v.safeParse(Previous, record.actions[0]?.previous);
    const whom = previous.success
      ? 'CreateVolumePermissions' in previous.output
        ? previous.output.CreateVolumePermissions.map((p) => p.UserId ?? p.Group ?? 'unknown')
        : previous.output.LaunchPermissions.map((p) => Object.values(p)[0] ?? 'unknown')
      : [];
    // The command that shares it again is added by the notifier, from the action type (as report and undo print it).
    return { title: sharingTitle(record.outcome, what), lines: whom.length > 0 ? [`Shared outside with: ${whom.join(', ')}`] : [] };
  },
} satisfies Rule<ShareFacts, ShareState, Clients, Settings>;
