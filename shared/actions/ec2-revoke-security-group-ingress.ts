/** EC2.RevokeSecurityGroupIngress: removes world-open ingress rules from a security group (open-security-group). */
import { RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import * as v from 'valibot';
import { hasErrorCode } from '../aws/errors.js';
import {
  describeGroupRules,
  GroupId,
  groupFlags,
  groupIdOf,
  groupLabel,
  GroupName,
  GroupRulesPrevious,
  IpPermissions,
  RuleId,
  rulesOfPermission,
  ruleSummary,
} from '../ec2/group-rules.js';
import { RULE_ID } from '../ec2/security-group-events.js';
import { fromSdkRule, isSameRule, toIpPermission } from '../ec2/world-open.js';
import { AwsCallError } from '../errors.js';
import { awsCommand, checked } from '../shell.js';
import { reverseStepOf, type ActionType, type Reversal, type SelfSignature } from './action.js';
import { authorizeSecurityGroupIngress } from './ec2-authorize-security-group-ingress.js';

/** By rule id: what every live plan is (the rules of this event, as the group holds them now). */
const ById = v.strictObject({ GroupId, SecurityGroupRuleIds: v.pipe(v.array(RuleId), v.minLength(1, 'at least one rule id')) });
/** By content: what an offline plan is when the record lacks the group id or a rule id. Never performed. */
const ByContent = v.union([v.strictObject({ GroupId, IpPermissions }), v.strictObject({ GroupName, IpPermissions })]);

export const RevokeSecurityGroupIngressParams = v.union([ById, ByContent]);
export type RevokeSecurityGroupIngressParams = v.InferOutput<typeof RevokeSecurityGroupIngressParams>;

/**
 * Any revoke of trailguard's roles is its own: a revoke only ever narrows who may connect, so none is turned
 * against what trailguard protects.
 */
export const revokeSecurityGroupIngressSignature = {
  api: 'EC2.RevokeSecurityGroupIngress',
  eventName: 'RevokeSecurityGroupIngress',
  isOwnWrite: () => true,
} as const satisfies SelfSignature;

export const revokeSecurityGroupIngress = {
  // The literal, not `revokeSecurityGroupIngressSignature.api`: a property read at module level keeps esbuild from
  // dropping this object (and the SDK command it imports) from bundles that import only the signature.
  api: 'EC2.RevokeSecurityGroupIngress',
  iam: 'ec2:RevokeSecurityGroupIngress',
  clients: ['ec2'],
  params: RevokeSecurityGroupIngressParams,
  previous: GroupRulesPrevious,
  // No rule acts on RevokeSecurityGroupIngress (open-security-group watches AuthorizeSecurityGroupIngress and
  // ModifySecurityGroupRules; network-change watches ACLs, gateways, routes and VPCs), and undo never revokes.
  retriggers: false,
  signature: revokeSecurityGroupIngressSignature,
  async perform({ params, resource }, { ec2 }) {
    // Live plans always name rules by id; a by-content revoke could remove a different, matching rule.
    if (!('SecurityGroupRuleIds' in params)) {
      throw new AwsCallError(
        revokeSecurityGroupIngressSignature.api,
        resource.id,
        'invalid',
        'RevokeByContentRefused',
        'a revoke by content could remove a different rule with the same protocol, ports and source: only a revoke by rule id is performed',
      );
    }
    try {
      await ec2.send(new RevokeSecurityGroupIngressCommand(params));
    } catch (error) {
      // One id already gone fails the whole call: revoke the ones still there (none left = already gone).
      if (!hasErrorCode(error, 'InvalidSecurityGroupRuleId.NotFound')) throw error;
      const present = new Set((await describeGroupRules(ec2, params.GroupId)).map((rule) => rule.SecurityGroupRuleId));
      const remaining = params.SecurityGroupRuleIds.filter((id) => present.has(id));
      if (remaining.length === 0) throw error;
      await ec2.send(new RevokeSecurityGroupIngressCommand({ ...params, SecurityGroupRuleIds: remaining }));
    }
  },
  async verify({ params }, { ec2 }) {
    if ('SecurityGroupRuleIds' in params) {
      const { GroupId: group, SecurityGroupRuleIds: ids } = params;
      const present = new Set((await describeGroupRules(ec2, group)).map((rule) => rule.SecurityGroupRuleId));
      const still = ids.filter((id) => present.has(id));
      return still.length === 0
        ? { ok: true, detail: `${ids.join(', ')} read back as gone from ${group}` }
        : { ok: false, detail: `still on ${group}: ${still.join(', ')}` };
    }
    // Never performed (see perform), but read back all the same: no rule of the same content is left.
    const group = await groupIdOf(ec2, params);
    const wanted = params.IpPermissions.flatMap(rulesOfPermission);
    const present = (await describeGroupRules(ec2, group)).map(fromSdkRule).filter((rule) => rule !== undefined);
    const still = present.filter((rule) => wanted.some((w) => isSameRule(w, rule)));
    return still.length === 0
      ? { ok: true, detail: `no rule with the revoked protocol, ports and source is on ${group}` }
      : { ok: false, detail: `still on ${group}: ${still.map(ruleSummary).join('; ')}` };
  },
  reverse({ params, previous, resource, region }): Reversal {
    if (!previous) return { kind: 'none', why: 'the record has no revoked rules in previous.SecurityGroupRules: nothing known to re-create' };
    const rules = previous.SecurityGroupRules.map(fromSdkRule).filter((rule) => rule !== undefined);
    if (rules.length === 0) return { kind: 'none', why: 'previous.SecurityGroupRules holds no CIDR ingress rule to re-create' };
    const target = 'GroupId' in params ? { GroupId: params.GroupId } : { GroupName: params.GroupName };
    return {
      kind: 'steps',
      steps: [
        reverseStepOf(
          authorizeSecurityGroupIngress,
          { ...resource, region },
          { ...target, IpPermissions: rules.map(toIpPermission) },
          { SecurityGroupRules: [] },
        ),
      ],
    };
  },
  command(step) {
    const { params } = step;
    const rules =
      'SecurityGroupRuleIds' in params
        ? { securityGroupRuleIds: params.SecurityGroupRuleIds.map((id) => checked(id, 'security group rule id', (value) => RULE_ID.test(value))) }
        : { ipPermissions: JSON.stringify(params.IpPermissions) };
    return awsCommand('ec2', 'revoke-security-group-ingress', { ...groupFlags(step), ...rules });
  },
  describe({ params }) {
    if ('SecurityGroupRuleIds' in params)
      return `revoke ${params.SecurityGroupRuleIds.length} ingress rule(s) of ${params.GroupId}: ${params.SecurityGroupRuleIds.join(', ')}`;
    const rules = params.IpPermissions.flatMap(rulesOfPermission);
    return `revoke ${rules.length} ingress rule(s) of ${groupLabel(params)} by content: ${rules.map(ruleSummary).join('; ')}`;
  },
} as const satisfies ActionType<RevokeSecurityGroupIngressParams, GroupRulesPrevious, 'ec2'>;
