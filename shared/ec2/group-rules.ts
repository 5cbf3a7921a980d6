/**
 * A security group's ingress rules as the EC2 actions validate, read and name them (shared by
 * EC2.RevokeSecurityGroupIngress and EC2.AuthorizeSecurityGroupIngress, which reverse each other, and by the
 * open-security-group rule that plans the revoke). Not an action module: importing it pulls no action type.
 */
import {
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
  type IpPermission as SdkIpPermission,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import * as v from 'valibot';
import type { Step } from '../actions/action.js';
import { awsCall } from '../aws/errors.js';
import { isGroupName, regionArg } from '../aws/names.js';
import { AwsCallError } from '../errors.js';
import { parseCidr } from '../net/cidr.js';
import { checked, type Checked } from '../shell.js';
import { GROUP_ID, RULE_ID } from './security-group-events.js';
import { normalizeProtocol, portsFor, type CidrRule } from './world-open.js';

export const GroupId = v.pipe(v.string(), v.regex(GROUP_ID, 'a security group id (sg- and 8 or 17 hex digits)'));
export const GroupName = v.pipe(v.string(), v.check(isGroupName, 'a security group name (1-255 printable ASCII characters)'));
export const RuleId = v.pipe(v.string(), v.regex(RULE_ID, 'a security group rule id (sgr- and 8 or 17 hex digits)'));

const Port = v.pipe(v.number(), v.integer(), v.minValue(-1), v.maxValue(65535));
const cidrOf = (family: 4 | 6) =>
  v.pipe(
    v.string(),
    v.check((text) => parseCidr(text)?.family === family, `an IPv${family} CIDR block`),
  );

/**
 * One IpPermission as trailguard writes it (`toIpPermission`): a protocol, its ports, and CIDR ranges only
 * (never another group or a prefix list), at least one of them. The keys are in the order EC2 documents them,
 * which is the order the command's JSON prints them in.
 */
export const IpPermission = v.pipe(
  v.strictObject({
    IpProtocol: v.pipe(v.string(), v.regex(/^(?:-1|\d{1,3}|[a-z][a-z0-9]{0,15})$/, 'an IP protocol (name, number or -1)')),
    FromPort: v.optional(Port),
    ToPort: v.optional(Port),
    IpRanges: v.optional(v.array(v.strictObject({ CidrIp: cidrOf(4), Description: v.optional(v.string()) }))),
    Ipv6Ranges: v.optional(v.array(v.strictObject({ CidrIpv6: cidrOf(6), Description: v.optional(v.string()) }))),
  }),
  v.check((p) => (p.IpRanges?.length ?? 0) + (p.Ipv6Ranges?.length ?? 0) > 0, 'an IpPermission with at least one CIDR range'),
);
export type IpPermission = v.InferOutput<typeof IpPermission>;

export const IpPermissions = v.pipe(v.array(IpPermission), v.minLength(1, 'at least one IpPermission'));

/** A rule as DescribeSecurityGroupRules returns it: the fields read are typed, any other (Tags, GroupOwnerId…) is accepted and dropped. */
const SdkRule = v.object({
  SecurityGroupRuleId: v.optional(v.string()),
  GroupId: v.optional(v.string()),
  IsEgress: v.optional(v.boolean()),
  IpProtocol: v.optional(v.string()),
  FromPort: v.optional(v.number()),
  ToPort: v.optional(v.number()),
  CidrIpv4: v.optional(v.string()),
  CidrIpv6: v.optional(v.string()),
  Description: v.optional(v.string()),
});

/** What a revoke replaced (and an authorize, as undo writes it: none): the rules in DescribeSecurityGroupRules spelling. */
export const GroupRulesPrevious = v.strictObject({ SecurityGroupRules: v.array(SdkRule) });
export type GroupRulesPrevious = v.InferOutput<typeof GroupRulesPrevious>;

/** The group a call names: by id, or (a default VPC group) by name. */
export type GroupTarget = { readonly GroupId: string } | { readonly GroupName: string };

/** The CIDR rules an IpPermission authorizes (or revokes by content), one per range, as EC2 stores them. */
export function rulesOfPermission(permission: SdkIpPermission): CidrRule[] {
  if (!permission.IpProtocol) return [];
  const protocol = normalizeProtocol(permission.IpProtocol);
  const [fromPort, toPort] = portsFor(protocol, permission.FromPort, permission.ToPort);
  const rule = (cidr: string | undefined, description: string | undefined): CidrRule[] =>
    cidr ? [{ ruleId: undefined, protocol, fromPort, toPort, cidr, description }] : [];
  return [
    ...(permission.IpRanges ?? []).flatMap((range) => rule(range.CidrIp, range.Description)),
    ...(permission.Ipv6Ranges ?? []).flatMap((range) => rule(range.CidrIpv6, range.Description)),
  ];
}

/** "tcp 22-22 from 0.0.0.0/0" ("all traffic from ::/0"): a rule in an action's one-sentence description. */
export const ruleSummary = (rule: CidrRule) =>
  `${rule.protocol === '-1' ? 'all traffic' : `${rule.protocol} ${rule.fromPort}-${rule.toPort}`} from ${rule.cidr}`;

/** Every rule of the group (ingress and egress), all pages. */
export async function describeGroupRules(ec2: EC2Client, groupId: string): Promise<SecurityGroupRule[]> {
  return awsCall('EC2.DescribeSecurityGroupRules', groupId, async () => {
    const rules: SecurityGroupRule[] = [];
    let token: string | undefined;
    do {
      const page = await ec2.send(
        new DescribeSecurityGroupRulesCommand({
          Filters: [{ Name: 'group-id', Values: [groupId] }],
          MaxResults: 1000,
          ...(token ? { NextToken: token } : {}),
        }),
      );
      rules.push(...(page.SecurityGroupRules ?? []).filter((rule) => rule.GroupId === undefined || rule.GroupId === groupId));
      token = page.NextToken;
    } while (token);
    return rules;
  });
}

/** The group's id: as given, or read for a name-only (default VPC) group; `gone` when there is no such group. */
export async function groupIdOf(ec2: EC2Client, target: GroupTarget): Promise<string> {
  if ('GroupId' in target) return target.GroupId;
  const group = await awsCall(
    'EC2.DescribeSecurityGroups',
    target.GroupName,
    async () => (await ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: [target.GroupName] }))).SecurityGroups?.[0],
  );
  if (!group?.GroupId) throw new AwsCallError('EC2.DescribeSecurityGroups', target.GroupName, 'gone', 'InvalidGroup.NotFound', 'no such group');
  return group.GroupId;
}

/** The group as a person reads it in a description: its id, else its name. */
export const groupLabel = (target: GroupTarget) => ('GroupId' in target ? target.GroupId : target.GroupName);

/** `--region` and `--group-id` (or `--group-name`) of a security-group call, each refused (no command) unless EC2 would take it. */
export function groupFlags(step: Step<GroupTarget, unknown>): { region: Checked; groupId: Checked } | { region: Checked; groupName: Checked } {
  const region = regionArg(step.region);
  const target = step.params;
  return 'GroupId' in target
    ? { region, groupId: checked(target.GroupId, 'security group id', (id) => GROUP_ID.test(id)) }
    : { region, groupName: checked(target.GroupName, 'security group name', isGroupName) };
}
