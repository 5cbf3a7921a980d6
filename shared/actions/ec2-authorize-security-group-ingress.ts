/** EC2.AuthorizeSecurityGroupIngress: re-creates ingress rules trailguard revoked (undo only; no function calls it). */
import { AuthorizeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
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
  rulesOfPermission,
  ruleSummary,
} from '../ec2/group-rules.js';
import { fromSdkRule, isSameRule } from '../ec2/world-open.js';
import { awsCommand } from '../shell.js';
import type { ActionType } from './action.js';

/** The SDK input, as undo writes it: the group (by id, or a default VPC group by name) and the CIDR rules. */
export const AuthorizeSecurityGroupIngressParams = v.union([v.strictObject({ GroupId, IpPermissions }), v.strictObject({ GroupName, IpPermissions })]);
export type AuthorizeSecurityGroupIngressParams = v.InferOutput<typeof AuthorizeSecurityGroupIngressParams>;

export const authorizeSecurityGroupIngress = {
  api: 'EC2.AuthorizeSecurityGroupIngress',
  iam: 'ec2:AuthorizeSecurityGroupIngress',
  clients: ['ec2'],
  params: AuthorizeSecurityGroupIngressParams,
  previous: GroupRulesPrevious,
  // open-security-group acts on AuthorizeSecurityGroupIngress: re-opening the group would be revoked again.
  retriggers: true,
  async perform({ params }, { ec2 }) {
    try {
      await ec2.send(new AuthorizeSecurityGroupIngressCommand(params));
    } catch (error) {
      // Someone re-created the rule already: the read-back decides.
      if (!hasErrorCode(error, 'InvalidPermission.Duplicate')) throw error;
    }
  },
  async verify({ params }, { ec2 }) {
    const group = await groupIdOf(ec2, params);
    const wanted = params.IpPermissions.flatMap(rulesOfPermission);
    const present = (await describeGroupRules(ec2, group)).map(fromSdkRule).filter((rule) => rule !== undefined);
    const missing = wanted.filter((rule) => !present.some((p) => isSameRule(p, rule)));
    return missing.length === 0
      ? { ok: true, detail: `${group} reads back with all ${wanted.length} rule(s) present` }
      : { ok: false, detail: `${group} lacks ${missing.map(ruleSummary).join('; ')}` };
  },
  reverse: () => ({ kind: 'none', why: "an operator's undo: to remediate again, remove its exemption and replay the event with --mode live" }),
  command: (step) => awsCommand('ec2', 'authorize-security-group-ingress', { ...groupFlags(step), ipPermissions: JSON.stringify(step.params.IpPermissions) }),
  describe({ params }) {
    const rules = params.IpPermissions.flatMap(rulesOfPermission);
    return `re-authorize ${rules.length} revoked ingress rule(s) on ${groupLabel(params)}: ${rules.map(ruleSummary).join('; ')}`;
  },
} as const satisfies ActionType<AuthorizeSecurityGroupIngressParams, GroupRulesPrevious, 'ec2'>;
