import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupRulesCommand,
  ModifySecurityGroupRulesCommand,
  type AuthorizeSecurityGroupIngressCommandInput,
  type IpPermission,
} from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { fromSdkRule, isViolating } from '../../shared/ec2/world-open.js';
import { sampleNames } from '../helpers/samples.js';
import { aws, resetEmulator } from './helpers/emulator.js';
import { recordedRule, sampleEvent } from './helpers/events.js';
import { invokeHandler } from './helpers/invoke.js';

/**
 * Every AuthorizeSecurityGroupIngress sample the rule remediates, made for real: the sample's own request
 * (flat form, name-only, ICMP, port ranges, IPv6-only, all protocols…) is sent to the emulator, the event
 * carries the ids EC2 answered (or none, where the sample has none), and the live handler must revoke
 * exactly the rules the sample's call opened to the world.
 */

const DEFAULT_ALLOWED = [
  { protocol: 'tcp', port: 80 },
  { protocol: 'tcp', port: 443 },
] as const;

type Recorded = {
  ipProtocol: string;
  fromPort?: number;
  toPort?: number;
  ipRanges?: { items?: { cidrIp: string; description?: string }[] };
  ipv6Ranges?: { items?: { cidrIpv6: string; description?: string }[] };
};
type RecordedRequest = {
  groupId?: string;
  groupName?: string;
  ipPermissions?: { items?: Recorded[] };
  ipProtocol?: string;
  fromPort?: number;
  toPort?: number;
  cidrIp?: string;
};

/** The SDK request the recorded one came from (CloudTrail's camelCase query-API shape back to the SDK's). */
function sdkRequest(recorded: RecordedRequest, target: { GroupId: string } | { GroupName: string }): AuthorizeSecurityGroupIngressCommandInput {
  if (recorded.cidrIp) return { ...target, IpProtocol: recorded.ipProtocol, FromPort: recorded.fromPort, ToPort: recorded.toPort, CidrIp: recorded.cidrIp };
  const permissions: IpPermission[] = (recorded.ipPermissions?.items ?? []).map((p) => ({
    IpProtocol: p.ipProtocol,
    FromPort: p.fromPort,
    ToPort: p.toPort,
    IpRanges: (p.ipRanges?.items ?? []).map((r) => ({ CidrIp: r.cidrIp, Description: r.description })),
    Ipv6Ranges: (p.ipv6Ranges?.items ?? []).map((r) => ({ CidrIpv6: r.cidrIpv6, Description: r.description })),
  }));
  return { ...target, IpPermissions: permissions };
}

const rulesOf = async (groupId: string) =>
  (await aws.ec2.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }))).SecurityGroupRules ?? [];

const AUTHORIZE_SAMPLES = sampleNames('open-security-group').filter((name) => name.startsWith('would-remediate.authorize-'));

beforeEach(resetEmulator);

describe('open-security-group: each remediable sample, made for real and remediated live', () => {
  it.each(AUTHORIZE_SAMPLES)('%s', async (name) => {
    const template = sampleEvent('open-security-group', name);
    const recorded = template.detail.requestParameters as RecordedRequest;
    const hasIds = JSON.stringify(template.detail.responseElements ?? {}).includes('securityGroupRuleSet');
    const groupName = recorded.groupName ?? 'example-e2e-sample';
    const groupId = (await aws.ec2.send(new CreateSecurityGroupCommand({ GroupName: groupName, Description: 'e2e' }))).GroupId ?? '';
    const target = recorded.groupId ? { GroupId: groupId } : { GroupName: groupName };
    const answer = await aws.ec2.send(new AuthorizeSecurityGroupIngressCommand(sdkRequest(recorded, target)));
    const event = sampleEvent('open-security-group', name, {
      requestParameters: { ...recorded, ...(recorded.groupId ? { groupId } : {}) },
      responseElements: {
        requestId: 'e2e',
        _return: true,
        ...(hasIds ? { securityGroupRuleSet: { items: (answer.SecurityGroupRules ?? []).map(recordedRule) } } : {}),
      },
    });
    const created = answer.SecurityGroupRules ?? [];
    const violating = created
      .filter((rule) => {
        const cidr = fromSdkRule({ ...rule, IsEgress: false });
        return cidr !== undefined && isViolating(cidr, DEFAULT_ALLOWED);
      })
      .map((rule) => rule.SecurityGroupRuleId);
    expect(violating.length).toBeGreaterThan(0);

    const { record } = await invokeHandler('open-security-group', event, { mode: 'live' });

    expect(record).toMatchObject({
      outcome: 'remediated',
      actions: [{ status: 'done', params: { GroupId: groupId, SecurityGroupRuleIds: violating }, verification: { ok: true } }],
    });
    const left = (await rulesOf(groupId)).map((rule) => rule.SecurityGroupRuleId);
    expect(left.filter((id) => violating.includes(id))).toEqual([]);
    expect(created.filter((rule) => !violating.includes(rule.SecurityGroupRuleId)).every((rule) => left.includes(rule.SecurityGroupRuleId))).toBe(true);
  });

  it('would-remediate.modify-security-group-rules-to-world-cidr: a private rule rewritten to 0.0.0.0/0 is revoked by its id', async () => {
    const groupId = (await aws.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'example-e2e-modify', Description: 'e2e' }))).GroupId ?? '';
    const [rule] =
      (
        await aws.ec2.send(
          new AuthorizeSecurityGroupIngressCommand({
            GroupId: groupId,
            IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.0.0.0/8', Description: 'ssh' }] }],
          }),
        )
      ).SecurityGroupRules ?? [];
    const ruleId = rule?.SecurityGroupRuleId ?? '';
    const update = { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIpv4: '0.0.0.0/0', Description: 'ssh' };
    await aws.ec2.send(
      new ModifySecurityGroupRulesCommand({ GroupId: groupId, SecurityGroupRules: [{ SecurityGroupRuleId: ruleId, SecurityGroupRule: update }] }),
    );
    const event = sampleEvent('open-security-group', 'would-remediate.modify-security-group-rules-to-world-cidr', {
      requestParameters: {
        ModifySecurityGroupRulesRequest: { GroupId: groupId, SecurityGroupRule: { SecurityGroupRuleId: ruleId, SecurityGroupRule: update } },
      },
    });

    const { record } = await invokeHandler('open-security-group', event, { mode: 'live' });

    expect(record).toMatchObject({
      outcome: 'remediated',
      actions: [{ params: { GroupId: groupId, SecurityGroupRuleIds: [ruleId] }, verification: { ok: true } }],
    });
    expect((await rulesOf(groupId)).map((r) => r.SecurityGroupRuleId)).not.toContain(ruleId);
  });
});
