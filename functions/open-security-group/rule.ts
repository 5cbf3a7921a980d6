import { DescribeSecurityGroupsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import * as v from 'valibot';
import { permissionsOf, planOf } from '../../shared/actions/action.js';
import { revokeSecurityGroupIngress, type RevokeSecurityGroupIngressParams } from '../../shared/actions/ec2-revoke-security-group-ingress.js';
import { ec2Client } from '../../shared/aws/ec2.js';
import { awsCall } from '../../shared/aws/errors.js';
import type { Config } from '../../shared/config.js';
import { describeGroupRules, GroupRulesPrevious } from '../../shared/ec2/group-rules.js';
import { authorizeIngressChange, GROUP_ID, modifyRulesChange, type SecurityGroupChange } from '../../shared/ec2/security-group-events.js';
import {
  fromSdkRule,
  isSameRule,
  isWorldOpenCidr,
  ruleLabel,
  toIpPermission,
  toSdkRule,
  type CidrRule,
  type WorldOpenPolicy,
} from '../../shared/ec2/world-open.js';
import { worldOpenRules } from '../../shared/ec2/world-open-set.js';
import { AwsCallError } from '../../shared/errors.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import {
  compliant,
  whereOf,
  violation,
  type Decision,
  type Message,
  type PlannedAction,
  type ResourceRef,
  type Rule,
  type Severity,
} from '../../shared/rule.js';
import type { ControlId } from '../../shared/controls.js';
import pattern from './pattern.json' with { type: 'json' };

/** What the event says: the group, and the CIDR rules the call created or rewrote. */
export interface GroupFacts extends SecurityGroupChange {
  readonly resources: readonly [ResourceRef];
  readonly modified: boolean;
}

/** The group as it is now (dry-run and live): its CIDR-sourced ingress rules, each with its id. */
export interface GroupState {
  readonly groupId: string;
  readonly groupName: string | undefined;
  readonly ingress: readonly CidrRule[];
}

type Clients = { readonly ec2: EC2Client };
type Settings = WorldOpenPolicy & { readonly enabled: boolean };

const GROUP_TYPE = 'AWS::EC2::SecurityGroup';

/** The one write this rule makes. */
const ACTIONS = [revokeSecurityGroupIngress];

function groupRef(id: string, name: string | undefined): ResourceRef {
  return { type: GROUP_TYPE, id, ...(name ? { name } : {}) };
}

// All protocols from the world exposes every service on the instance at once.
const severityOf = (rules: readonly CidrRule[]): Severity => (rules.some((r) => r.protocol === '-1') ? 'CRITICAL' : 'HIGH');
const labels = (rules: readonly CidrRule[]) => rules.map(ruleLabel).join('; ');

/**
 * What a violation opens, for the Security Hub controls it matches: a remote administration port (22 SSH, 3389 RDP,
 * or all protocols) to the IPv4 world (EC2.53), the IPv6 world (EC2.54) or both, or other ports (EC2.18 only).
 */
export const FINDINGS = ['admin-port-open-to-ipv4', 'admin-port-open-to-ipv6', 'admin-port-open-to-both', 'port-open'] as const;
type Finding = (typeof FINDINGS)[number];

const ADMIN_PORTS = [22, 3389];
const opensAdminPort = (rule: CidrRule) =>
  rule.protocol === '-1' || (['tcp', 'udp', '6', '17'].includes(rule.protocol) && ADMIN_PORTS.some((port) => rule.fromPort <= port && port <= rule.toPort));

function findingOf(rules: readonly CidrRule[]): Finding {
  const admin = rules.filter(opensAdminPort);
  const ipv6 = admin.some((rule) => rule.cidr.includes(':'));
  const ipv4 = admin.some((rule) => !rule.cidr.includes(':'));
  return ipv4 && ipv6 ? 'admin-port-open-to-both' : ipv4 ? 'admin-port-open-to-ipv4' : ipv6 ? 'admin-port-open-to-ipv6' : 'port-open';
}

/** The revoke, with the rules it removes as `previous` (what the notifier, report and undo re-create them from). */
function plan(resource: ResourceRef, params: RevokeSecurityGroupIngressParams, rules: readonly CidrRule[]): PlannedAction {
  return planOf(revokeSecurityGroupIngress, resource, params, { SecurityGroupRules: rules.map(toSdkRule) });
}

/** Offline: by rule id when the record gave every id, else by content (what dry-run/live resolve to ids). */
function planFromEvent(facts: GroupFacts, rules: readonly CidrRule[]): PlannedAction {
  const ids = rules.map((r) => r.ruleId).filter((id) => id !== undefined);
  const IpPermissions = rules.map(toIpPermission);
  // parse() names the group by id or by name (a record with neither is refused), so the name is there when the id is not.
  const params: RevokeSecurityGroupIngressParams = facts.groupId
    ? ids.length === rules.length
      ? { GroupId: facts.groupId, SecurityGroupRuleIds: ids }
      : { GroupId: facts.groupId, IpPermissions }
    : { GroupName: facts.groupName ?? facts.resources[0].id, IpPermissions };
  return plan(facts.resources[0], params, rules);
}

/** How many older rules a reason names before "and K more": enough to act on, short enough for a subject line's record. */
const OLDER_NAMED = 5;

/** "; 2 older world-open ingress rule(s) not from this event left alone: tcp 8080 from 0.0.0.0/0 (sgr-…); …". */
function olderNote(older: readonly CidrRule[]): string {
  if (older.length === 0) return '';
  const more = older.length > OLDER_NAMED ? ` and ${older.length - OLDER_NAMED} more` : '';
  return `; ${older.length} older world-open ingress rule(s) not from this event left alone: ${labels(older.slice(0, OLDER_NAMED))}${more}`;
}

/** Says so when some rule is world-open only with other sources for the same traffic (`0.0.0.0/1` + `128.0.0.0/1`). */
function togetherNote(rules: readonly CidrRule[], { worldOpenPrefix: limits }: Settings): string {
  if (rules.every((rule) => isWorldOpenCidr(rule.cidr, limits))) return '';
  return ` (with the other sources for the same traffic: a non-private range wider than /${limits.ipv4} for IPv4, /${limits.ipv6} for IPv6)`;
}

function foreignNote(facts: GroupFacts): string {
  return facts.foreignRuleIds.length > 0 ? `; response rule id(s) not of this group ignored: ${facts.foreignRuleIds.join(', ')}` : '';
}

function decide(facts: GroupFacts, state: GroupState | undefined, settings: Settings): Decision {
  const group = facts.resources[0].id;
  if (!state) {
    // Offline has only the record: the union is taken over this call's ranges. A ModifySecurityGroupRules
    // request does not say whether the rule is ingress.
    const asked = worldOpenRules(facts.rules, settings);
    if (asked.length === 0) return compliant(`the request opens no disallowed port of ${group} to the world${foreignNote(facts)}`, facts.resources);
    const caveat = facts.modified ? ' (if it is an ingress rule)' : '';
    return violation(
      `${group} opened to the world${caveat}: ${labels(asked)}${togetherNote(asked, settings)}${foreignNote(facts)}`,
      severityOf(asked),
      facts.resources,
      [planFromEvent(facts, asked)],
      findingOf(asked),
    );
  }
  // Dry-run and live decide on the group as it is now (the union over all its rules for the same traffic, so
  // ranges split over several calls still add up), and revoke only the world-open rules this event created or
  // rewrote: by id when the record has it, else by protocol, ports and source. Older world-open rules are
  // left alone: they may be reviewed, IaC-managed or already reported, and this event is no evidence about them.
  const resource = groupRef(state.groupId, state.groupName ?? facts.groupName);
  const open = worldOpenRules(state.ingress, settings);
  // A response's rule id the group does not hold (a stale event, or another group's rule under this group's
  // id) is no evidence either: that rule is found by content. A ModifySecurityGroupRules id is the request's own.
  const held = new Set(state.ingress.map((rule) => rule.ruleId));
  const isById = (asked: CidrRule) => asked.ruleId !== undefined && (facts.modified || held.has(asked.ruleId));
  const isFromEvent = (rule: CidrRule) => facts.rules.some((a) => (isById(a) ? a.ruleId === rule.ruleId : isSameRule(a, rule)));
  const targets = open.filter(isFromEvent);
  const note = `${olderNote(open.filter((rule) => !isFromEvent(rule)))}${foreignNote(facts)}`;
  if (targets.length === 0) return compliant(`no world-open rule from this event is on ${state.groupId} now${note}`, [resource]);
  const ids = targets.map((rule) => rule.ruleId).filter((id) => id !== undefined);
  return violation(
    `${state.groupId} is open to the world: ${labels(targets)}${togetherNote(targets, settings)}${note}`,
    severityOf(targets),
    [resource],
    [plan(resource, { GroupId: state.groupId, SecurityGroupRuleIds: ids }, targets)],
    findingOf(targets),
  );
}

async function inspect(facts: GroupFacts, { ec2 }: Clients): Promise<GroupState> {
  const target = facts.resources[0].id;
  // Resolves a name-only (default VPC) group to its id, and learns the name for name-glob exemptions.
  const group = await awsCall('EC2.DescribeSecurityGroups', target, async () => {
    const query = facts.groupId ? { GroupIds: [facts.groupId] } : { GroupNames: [target] };
    return (await ec2.send(new DescribeSecurityGroupsCommand(query))).SecurityGroups?.[0];
  });
  if (!group?.GroupId) throw new AwsCallError('EC2.DescribeSecurityGroups', target, 'gone', 'InvalidGroup.NotFound', 'no such group');
  const rules = await describeGroupRules(ec2, group.GroupId);
  return { groupId: group.GroupId, groupName: group.GroupName, ingress: rules.map(fromSdkRule).filter((rule) => rule !== undefined) };
}

function titleFor(outcome: string, group: string): string {
  switch (outcome) {
    case 'remediated':
      return `World-open ingress revoked on ${group}`;
    case 'would-remediate':
      return `Would revoke world-open ingress on ${group}`;
    case 'failed':
      return `FAILED to revoke world-open ingress on ${group}`;
    default:
      return `Security group ${group}: ${outcome}`;
  }
}

export const openSecurityGroup = {
  id: 'open-security-group',
  controls: {
    byFinding: {
      'admin-port-open-to-ipv4': ['EC2.53', 'EC2.19', 'EC2.18', 'CloudWatch.10'],
      'admin-port-open-to-ipv6': ['EC2.54', 'EC2.19', 'EC2.18', 'CloudWatch.10'],
      'admin-port-open-to-both': ['EC2.53', 'EC2.54', 'EC2.19', 'EC2.18', 'CloudWatch.10'],
      'port-open': ['EC2.18', 'CloudWatch.10'],
    } satisfies Record<Finding, readonly ControlId[]>,
  },
  pattern: pattern as EventPattern,
  permissions: {
    'EC2.DescribeSecurityGroups': 'ec2:DescribeSecurityGroups',
    'EC2.DescribeSecurityGroupRules': 'ec2:DescribeSecurityGroupRules',
    ...permissionsOf(ACTIONS),
  },
  actions: ACTIONS,
  settings: (config: Config) => config.rules['open-security-group'],
  clients: (options) => ({ ec2: ec2Client(options) }),
  parse({ record, event }) {
    const modified = record.eventName === 'ModifySecurityGroupRules';
    const change = modified
      ? modifyRulesChange(record.requestParameters, event.id)
      : authorizeIngressChange(record.requestParameters, record.responseElements, event.id);
    const id = change.groupId ?? change.groupName ?? '';
    return { ...change, modified, resources: [groupRef(id, change.groupName)] };
  },
  // A group is named by id, or (default VPC, an older record without the response's rule set) only by name: both
  // forms must take one lock, so a name is read as its id first (inspect reads the group again, under the lock).
  async lockKey(resource, context, { ec2 }) {
    const { account, region } = whereOf(context);
    const where = `${account ?? 'unknown-account'}#${region}`;
    if (GROUP_ID.test(resource.id)) return `${where}#${resource.id}`;
    const group = await awsCall(
      'EC2.DescribeSecurityGroups',
      resource.id,
      async () => (await ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: [resource.id] }))).SecurityGroups?.[0],
    );
    return `${where}#${group?.GroupId ?? resource.id}`;
  },
  inspect,
  decide,
  message(record): Message {
    const group = record.resources[0];
    const previous = v.safeParse(GroupRulesPrevious, record.actions[0]?.previous);
    const rules = previous.success ? previous.output.SecurityGroupRules.map(fromSdkRule).filter((r) => r !== undefined) : [];
    // The command that re-creates them is added by the notifier, from the action type (as report and undo print it).
    const lines = group?.name && group.name !== group.id ? [`Group name: ${group.name}`] : [];
    for (const rule of rules) lines.push(`Rule: ${ruleLabel(rule)}${rule.description ? `, description "${rule.description}"` : ''}`);
    return { title: titleFor(record.outcome, group?.id ?? 'unknown security group'), lines };
  },
} satisfies Rule<GroupFacts, GroupState, Clients, Settings>;
