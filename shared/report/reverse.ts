/**
 * How to reverse what a remediation did, from its log record alone: each action's `previous` (the state it
 * replaced) becomes the API call that puts it back, and the exact AWS CLI command for a person. Pure: the
 * report shows the commands, `trailguard undo` prints the plan and, with `--apply`, performs the steps.
 */
import type { SecurityGroupRule } from '@aws-sdk/client-ec2';
import { isAccountId, isBucketName, isEc2Id, isGroupName, isInstanceId, isRegionName, isScheduleName } from '../aws/names.js';
import { SETTINGS, trailRefFrom } from '../cloudtrail/trail.js';
import { GROUP_ID } from '../ec2/security-group-events.js';
import { fromSdkRule, toIpPermission } from '../ec2/world-open.js';
import type { ActionRecord, RemediationRecord } from '../remediation-log.js';
import { toPublicAccessBlock } from '../s3/public-access.js';
import { awsCommand, checked } from '../shell.js';

/** One reversing API call: the SDK input, the IAM action the operator needs, and the CLI command. */
export interface ReverseStep {
  /** `Service.Operation`, as actions name their APIs. */
  readonly api:
    | 'S3.PutPublicAccessBlock'
    | 'S3.DeletePublicAccessBlock'
    | 'EC2.AuthorizeSecurityGroupIngress'
    | 'EC2.DeleteTags'
    | 'CloudTrail.UpdateTrail';
  readonly iamAction: string;
  readonly resource: string;
  readonly region: string;
  readonly params: Readonly<Record<string, unknown>>;
  /** The same call as an `aws` CLI command, values shell-quoted. */
  readonly cli: string;
  /** What the step puts back, in one sentence. */
  readonly summary: string;
}

/**
 * - `steps`: `trailguard undo --apply` performs them and reads them back.
 * - `manual`: reversible by hand (the command is given), but undo does not perform it.
 * - `none`: nothing to reverse, or it must not be reversed; `why` says which.
 */
export type Reversal =
  | { readonly kind: 'steps'; readonly action: ActionRecord; readonly steps: readonly ReverseStep[] }
  | { readonly kind: 'manual'; readonly action: ActionRecord; readonly why: string; readonly cli: string }
  | { readonly kind: 'none'; readonly action: ActionRecord; readonly why: string };

/** The IAM action each reversing API needs (the operator's credentials, never the Lambda roles). */
export const UNDO_PERMISSIONS: Readonly<Record<ReverseStep['api'], string>> = {
  'S3.PutPublicAccessBlock': 's3:PutBucketPublicAccessBlock',
  'S3.DeletePublicAccessBlock': 's3:PutBucketPublicAccessBlock',
  'EC2.AuthorizeSecurityGroupIngress': 'ec2:AuthorizeSecurityGroupIngress',
  'EC2.DeleteTags': 'ec2:DeleteTags',
  'CloudTrail.UpdateTrail': 'cloudtrail:UpdateTrail',
};

/** The reads `undo` verifies with (and `--mode dry-run` shows the current state with). */
export const UNDO_READ_PERMISSIONS: Readonly<Record<string, string>> = {
  'S3.GetPublicAccessBlock': 's3:GetBucketPublicAccessBlock',
  'EC2.DescribeSecurityGroupRules': 'ec2:DescribeSecurityGroupRules',
  'EC2.DescribeTags': 'ec2:DescribeTags',
  'CloudTrail.GetTrail': 'cloudtrail:GetTrail',
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** The region an action ran in: the resource's own (a trail's home region) when the record names it. */
function regionFor(record: RemediationRecord, action: ActionRecord): string {
  const resource = record.resources.find((r) => r.id === action.resource);
  return resource?.region ?? record.region ?? 'us-east-1';
}

function publicBucketReversal(record: RemediationRecord, action: ActionRecord): Reversal {
  const params = isObject(action.params) ? action.params : {};
  const bucket = typeof params.Bucket === 'string' ? params.Bucket : action.resource;
  const owner = typeof params.ExpectedBucketOwner === 'string' ? params.ExpectedBucketOwner : undefined;
  const previous = isObject(action.previous) ? action.previous : undefined;
  if (!previous || !('PublicAccessBlockConfiguration' in previous)) {
    return { kind: 'none', action, why: 'the record has no earlier Block Public Access setting (it was not read): nothing known to put back' };
  }
  const region = regionFor(record, action);
  const where = { region, bucket: checked(bucket, 'bucket name', isBucketName), expectedBucketOwner: owner === undefined ? undefined : checked(owner, 'account id', isAccountId) };
  const common = { Bucket: bucket, ...(owner ? { ExpectedBucketOwner: owner } : {}) };
  if (previous.PublicAccessBlockConfiguration === null) {
    return {
      kind: 'steps', action, steps: [{
        api: 'S3.DeletePublicAccessBlock', iamAction: UNDO_PERMISSIONS['S3.DeletePublicAccessBlock'], resource: bucket, region,
        params: common,
        cli: awsCommand('s3api', 'delete-public-access-block', where),
        summary: `remove the Block Public Access configuration of ${bucket} (it had none before)`,
      }],
    };
  }
  const before = toPublicAccessBlock(previous.PublicAccessBlockConfiguration);
  return {
    kind: 'steps', action, steps: [{
      api: 'S3.PutPublicAccessBlock', iamAction: UNDO_PERMISSIONS['S3.PutPublicAccessBlock'], resource: bucket, region,
      params: { ...common, PublicAccessBlockConfiguration: before },
      cli: awsCommand('s3api', 'put-public-access-block', { ...where, publicAccessBlockConfiguration: JSON.stringify(before) }),
      summary: `put back the earlier Block Public Access configuration of ${bucket}: ${JSON.stringify(before)}`,
    }],
  };
}

function securityGroupReversal(record: RemediationRecord, action: ActionRecord): Reversal {
  const params = isObject(action.params) ? action.params : {};
  const previous = isObject(action.previous) ? action.previous : undefined;
  const sdkRules = Array.isArray(previous?.SecurityGroupRules) ? (previous.SecurityGroupRules as SecurityGroupRule[]) : undefined;
  if (!sdkRules) return { kind: 'none', action, why: 'the record has no revoked rules in previous.SecurityGroupRules: nothing known to re-create' };
  const rules = sdkRules.map(fromSdkRule).filter((rule) => rule !== undefined);
  if (rules.length === 0) return { kind: 'none', action, why: 'previous.SecurityGroupRules holds no CIDR ingress rule to re-create' };
  const groupId = typeof params.GroupId === 'string' ? params.GroupId : undefined;
  const groupName = typeof params.GroupName === 'string' ? params.GroupName : undefined;
  const target = groupId ? { GroupId: groupId } : { GroupName: groupName ?? action.resource };
  const targetArg = groupId ? { groupId: checked(groupId, 'security group id', (id) => GROUP_ID.test(id)) }
    : { groupName: checked(target.GroupName, 'security group name', isGroupName) };
  const region = regionFor(record, action);
  const IpPermissions = rules.map(toIpPermission);
  return {
    kind: 'steps', action, steps: [{
      api: 'EC2.AuthorizeSecurityGroupIngress', iamAction: UNDO_PERMISSIONS['EC2.AuthorizeSecurityGroupIngress'], resource: groupId ?? action.resource, region,
      params: { ...target, IpPermissions },
      cli: awsCommand('ec2', 'authorize-security-group-ingress', { region, ...targetArg, ipPermissions: JSON.stringify(IpPermissions) }),
      summary: `re-authorize ${rules.length} revoked ingress rule(s) on ${groupId ?? action.resource}: ${rules.map((r) => `${r.protocol} ${r.fromPort}-${r.toPort} from ${r.cidr}`).join('; ')}`,
    }],
  };
}

function tagsReversal(record: RemediationRecord, action: ActionRecord): Reversal {
  const params = isObject(action.params) ? action.params : {};
  const previous = isObject(action.previous) ? action.previous : undefined;
  if (!previous || !isObject(previous.Tags)) {
    return { kind: 'none', action, why: 'the record does not say which tags existed before (not read): no tag is removed blindly' };
  }
  const before = previous.Tags;
  const resources = Array.isArray(params.Resources) ? params.Resources.filter((r): r is string => typeof r === 'string') : [action.resource];
  const added = (Array.isArray(params.Tags) ? params.Tags : [])
    .filter((t): t is { Key: string; Value: string } => isObject(t) && typeof t.Key === 'string')
    // Only keys trailguard added: a key that existed before is never removed.
    .filter((t) => !Object.hasOwn(before, t.Key))
    .map((t) => ({ Key: t.Key, Value: typeof t.Value === 'string' ? t.Value : '' }));
  if (added.length === 0) return { kind: 'none', action, why: 'every key it wrote existed before: nothing was added, nothing to remove' };
  const region = regionFor(record, action);
  return {
    kind: 'steps', action, steps: [{
      api: 'EC2.DeleteTags', iamAction: UNDO_PERMISSIONS['EC2.DeleteTags'], resource: resources.join(','), region,
      // With the value: EC2 deletes a tag only while it still holds what trailguard wrote, so a value a
      // person has set since is kept.
      params: { Resources: resources, Tags: added },
      cli: awsCommand('ec2', 'delete-tags', { region, resources: resources.map((id) => checked(id, 'EC2 resource id', isEc2Id)), tags: JSON.stringify(added) }),
      summary: `remove the tag(s) it added to ${resources.join(', ')}: ${added.map((t) => t.Key).join(', ')} (only while they still hold the value it wrote)`,
    }],
  };
}

/** UpdateTrail input name → the CLI flag's camelCase: `EnableLogFileValidation` → `enableLogFileValidation`. */
const flagOf = (input: string) => input.replace(/^[A-Z]/, (c) => c.toLowerCase());

const TRAIL_INPUTS = new Set(Object.values(SETTINGS).flatMap((s) => (s.restore ? [s.restore.input] : [])));

function updateTrailReversal(record: RemediationRecord, action: ActionRecord): Reversal {
  const params = isObject(action.params) ? action.params : {};
  const previous = isObject(action.previous) ? action.previous : undefined;
  const settings = Object.entries(previous ?? {}).filter((e): e is [string, boolean] => TRAIL_INPUTS.has(e[0] as never) && typeof e[1] === 'boolean');
  if (settings.length === 0) return { kind: 'none', action, why: 'the record has no earlier trail settings (not read): nothing known to put back' };
  const name = typeof params.Name === 'string' ? params.Name : action.resource;
  const region = regionFor(record, action);
  return {
    kind: 'steps', action, steps: [{
      api: 'CloudTrail.UpdateTrail', iamAction: UNDO_PERMISSIONS['CloudTrail.UpdateTrail'], resource: name, region,
      params: { Name: name, ...Object.fromEntries(settings) },
      cli: awsCommand('cloudtrail', 'update-trail', {
        region, name: checked(name, 'trail name', (value) => trailRefFrom(value) !== undefined), ...Object.fromEntries(settings.map(([input, value]) => [flagOf(input), value])),
      }),
      summary: `set ${name} back to ${settings.map(([input, value]) => `${input}=${value}`).join(', ')}`,
    }],
  };
}

/** How to reverse one action of a record. Only a `done` write has anything to reverse. */
export function reversalOf(record: RemediationRecord, action: ActionRecord): Reversal {
  if (action.status !== 'done') return { kind: 'none', action, why: `not performed (${action.status}): nothing to reverse` };
  if (record.trigger === 'undo') {
    return { kind: 'none', action, why: `an operator's undo of ${record.eventId}: to remediate again, remove its exemption and replay the event with --mode live` };
  }
  if (action.verification?.detail.startsWith('already gone')) return { kind: 'none', action, why: 'the resource was already gone: nothing was changed' };
  const region = regionFor(record, action);
  // The region picks the client's endpoint and goes into the command: only a region code is used.
  if (!isRegionName(region)) return { kind: 'none', action, why: 'the record\'s region is not a valid region name: no command, nothing is reversed from it' };
  switch (action.api) {
    case 'S3.PutPublicAccessBlock': return publicBucketReversal(record, action);
    case 'EC2.RevokeSecurityGroupIngress': return securityGroupReversal(record, action);
    case 'EC2.CreateTags': return tagsReversal(record, action);
    case 'CloudTrail.UpdateTrail': return updateTrailReversal(record, action);
    case 'CloudTrail.StartLogging':
      return { kind: 'none', action, why: 'StartLogging is never undone: a stopped trail blinds every rule and the audit record. Stop it yourself (aws cloudtrail stop-logging) only if you really must' };
    case 'EC2.StopInstances': {
      const ids = isObject(action.params) && Array.isArray(action.params.InstanceIds) ? action.params.InstanceIds.map(String) : [action.resource];
      return { kind: 'manual', action, why: 'starting an instance again is left to a person (it was stopped for lacking required tags: tag it first)',
        cli: awsCommand('ec2', 'start-instances', { region, instanceIds: ids.map((id) => checked(id, 'instance id', isInstanceId)) }) };
    }
    case 'Scheduler.CreateSchedule': {
      const params = isObject(action.params) ? action.params : {};
      const name = typeof params.Name === 'string' ? params.Name : action.resource;
      const group = typeof params.GroupName === 'string' ? params.GroupName : 'default';
      return { kind: 'manual', action, why: 'cancelling the pending enforcement check is left to a person (it deletes itself after it runs)',
        cli: awsCommand('scheduler', 'delete-schedule', {
          region, name: checked(name, 'schedule name', isScheduleName), groupName: checked(group, 'schedule group name', isScheduleName),
        }) };
    }
    default:
      return { kind: 'none', action, why: `no reversal is known for ${action.api}` };
  }
}

/** Every action of a record with its reversal. */
export function reversalsOf(record: RemediationRecord): Reversal[] {
  return record.actions.map((action) => reversalOf(record, action));
}

/** One line for a person: the command, or why there is none. */
export function reversalText(reversal: Reversal): string {
  switch (reversal.kind) {
    case 'steps': return reversal.steps.map((s) => s.cli).join(' && ');
    case 'manual': return `${reversal.cli}  (by hand: ${reversal.why})`;
    case 'none': return `no reversal: ${reversal.why}`;
  }
}
