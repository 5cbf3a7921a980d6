import { describe, expect, it } from 'vitest';
import { openSecurityGroup, type GroupFacts, type GroupState } from '../../../functions/open-security-group/rule.js';
import {
  canonicalCidr, fromSdkRule, isAllowedWorldRule, isWorldOpenCidr, type CidrRule,
} from '../../../shared/ec2/world-open.js';
import { ParseError } from '../../../shared/errors.js';
import { parseEnvelope, toEnvelopeJson } from '../../../shared/events/schema.js';
import { expectedOutcome, loadSample, runSample, sampleConfig, sampleNames, withDetail } from '../../helpers/samples.js';

const RULE = 'open-security-group';
const SG = 'sg-0123456789abcdef0';
const settings = openSecurityGroup.settings(sampleConfig());

function factsOf(sample: unknown): GroupFacts {
  const event = parseEnvelope(toEnvelopeJson(sample));
  return openSecurityGroup.parse({ event, record: event.detail });
}

const decideOn = (sample: unknown, state?: GroupState, custom = settings) => openSecurityGroup.decide(factsOf(sample), state, custom);

/** A detail patch for AuthorizeSecurityGroupIngress with the given request (and response) parameters. */
function authorize(requestParameters: unknown, responseElements: unknown = { _return: true }) {
  return withDetail(loadSample(RULE, 'would-remediate.authorize-ipv4-world-ssh-with-rule-ids'), { requestParameters, responseElements });
}

const rule = (ruleId: string, protocol: string, fromPort: number, toPort: number, cidr: string): CidrRule =>
  ({ ruleId, protocol, fromPort, toPort, cidr, description: undefined });
const stateWith = (...ingress: CidrRule[]): GroupState => ({ groupId: SG, groupName: 'web', ingress });

describe('open-security-group offline decisions over events/open-security-group', () => {
  it.each(sampleNames(RULE))('%s ends in the outcome its name states', async (name) => {
    const { record } = await runSample(openSecurityGroup, name);
    expect(record.outcome).toBe(expectedOutcome(name));
    expect(record.rule).toBe(RULE);
  });

  it('plans a revoke of exactly the not-allowed world rules of a mixed call, by their response ids', async () => {
    const { record } = await runSample(openSecurityGroup, 'would-remediate.authorize-several-permissions-mixed-allowed-and-not');
    expect(record.actions).toEqual([expect.objectContaining({
      api: 'EC2.RevokeSecurityGroupIngress',
      params: { GroupId: SG, SecurityGroupRuleIds: ['sgr-00000000000001d03', 'sgr-00000000000001d05'] },
    })]);
    expect(record.reason).toContain('tcp 22 from 0.0.0.0/0');
    expect(record.reason).toContain('tcp 5432 from ::/0');
    expect(record.reason).not.toContain('443');
    expect(record.reason).not.toContain('198.51.100.0/24');
  });

  it('rates all protocols from the world CRITICAL and a single port HIGH', async () => {
    const all = await runSample(openSecurityGroup, 'would-remediate.authorize-all-protocols-ipv4-and-ipv6-world');
    const ssh = await runSample(openSecurityGroup, 'would-remediate.authorize-ipv4-world-ssh-with-rule-ids');
    expect(all.record).toMatchObject({ severity: 'CRITICAL', actions: [{ params: { SecurityGroupRuleIds: ['sgr-00000000000001c01', 'sgr-00000000000001c02'] } }] });
    expect(ssh.record.severity).toBe('HIGH');
  });

  it('plans by content, naming the group by name, when the record has neither group id nor rule ids', async () => {
    const { record } = await runSample(openSecurityGroup, 'would-remediate.authorize-group-name-only-default-vpc');
    expect(record.resources).toEqual([{ type: 'AWS::EC2::SecurityGroup', id: 'launch-wizard-1', name: 'launch-wizard-1' }]);
    expect(record.actions[0]?.params).toEqual({
      GroupName: 'launch-wizard-1',
      IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
    });
  });

  it('records each planned rule so it can be re-created, and says how in the notification', async () => {
    const { record, deps } = await runSample(openSecurityGroup, 'would-remediate.authorize-ipv6-only-world-rdp');
    expect(record.actions[0]?.previous).toEqual({ SecurityGroupRules: [{
      SecurityGroupRuleId: 'sgr-00000000000001b01', IsEgress: false, IpProtocol: 'tcp', FromPort: 3389, ToPort: 3389, CidrIpv6: '::/0', Description: 'remote desktop',
    }] });
    expect(deps.published[0]?.subject).toMatch(/^\[HIGH\] Would revoke world-open ingress on sg-0123456789abcdef0 in 111122223333\/eu-west-1$/);
    expect(deps.published[0]?.text).toContain(
      `aws ec2 authorize-security-group-ingress --region eu-west-1 --group-id ${SG} --ip-permissions '[{"IpProtocol":"tcp","FromPort":3389,"ToPort":3389,"Ipv6Ranges":[{"CidrIpv6":"::/0","Description":"remote desktop"}]}]'`,
    );
  });
});

describe('open-security-group parse', () => {
  it('tolerates missing, empty and single-object EC2 lists', () => {
    const facts = factsOf(authorize({
      groupId: SG,
      ipPermissions: { items: { ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: { items: { cidrIp: '0.0.0.0/0' } } } },
    }));
    expect(facts.rules).toEqual([{ ruleId: undefined, protocol: 'tcp', fromPort: 22, toPort: 22, cidr: '0.0.0.0/0', description: undefined }]);
  });

  it('reads the flat CidrIp form that leaves ipPermissions empty, with protocol numbers normalised', () => {
    const facts = factsOf(authorize({ groupId: SG, ipPermissions: {}, ipProtocol: '6', fromPort: 22, toPort: 22, cidrIp: '0.0.0.0/0' }));
    expect(facts.rules).toEqual([expect.objectContaining({ protocol: 'tcp', fromPort: 22, toPort: 22, cidr: '0.0.0.0/0' })]);
  });

  it('refuses a flat cidrIp without a protocol, naming the field', () => {
    expect(() => factsOf(authorize({ groupId: SG, cidrIp: '0.0.0.0/0' }))).toThrow(/detail\.requestParameters\.ipProtocol/);
  });

  it('matches a non-canonical /0 to the canonical rule in the response and counts it world-open', () => {
    const sample = authorize(
      { groupId: SG, ipPermissions: { items: [{ ipProtocol: 'tcp', fromPort: 23, toPort: 23, ipRanges: { items: [{ cidrIp: '198.51.100.9/0' }] } }] } },
      { _return: true, securityGroupRuleSet: { items: [{ securityGroupRuleId: 'sgr-0aaaaaaaaaaaaaaa1', groupId: SG, isEgress: false, ipProtocol: 'tcp', fromPort: 23, toPort: 23, cidrIpv4: '0.0.0.0/0' }] } },
    );
    expect(factsOf(sample).rules[0]?.ruleId).toBe('sgr-0aaaaaaaaaaaaaaa1');
    expect(decideOn(sample)).toMatchObject({ kind: 'violation', actions: [{ params: { SecurityGroupRuleIds: ['sgr-0aaaaaaaaaaaaaaa1'] } }] });
  });

  it('takes the group id from the response when the request named the group only by name', () => {
    const sample = authorize(
      { groupName: 'launch-wizard-2', ipPermissions: { items: [{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } }] } },
      { securityGroupRuleSet: { items: [{ securityGroupRuleId: 'sgr-0bbbbbbbbbbbbbbb2', groupId: 'sg-0fedcba9876543210', isEgress: false, ipProtocol: 'tcp', fromPort: 22, toPort: 22, cidrIpv4: '0.0.0.0/0' }] } },
    );
    expect(factsOf(sample)).toMatchObject({ groupId: 'sg-0fedcba9876543210', resources: [{ id: 'sg-0fedcba9876543210', name: 'launch-wizard-2' }] });
  });

  it.each([
    ['a redacted group id', { groupId: '...', ipPermissions: {} }, /detail\.requestParameters\.groupId/],
    ['a too-short group id', { groupId: 'sg-1', ipPermissions: {} }, /detail\.requestParameters\.groupId/],
    ['neither group id nor name', { ipPermissions: {} }, /detail\.requestParameters\.groupId: expected a security group id or name/],
    ['a port out of range', { groupId: SG, ipPermissions: { items: [{ ipProtocol: 'tcp', fromPort: 22, toPort: 70000 }] } }, /ipPermissions\.items\.0\.toPort/],
    ['a CIDR that is not one', { groupId: SG, ipPermissions: { items: [{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: { items: [{ cidrIp: 'anywhere' }] } }] } }, /ipRanges\.items\.0\.cidrIp/],
  ])('refuses %s, naming the field', (_, request, field) => {
    expect(() => factsOf(authorize(request))).toThrow(ParseError);
    expect(() => factsOf(authorize(request))).toThrow(field);
  });

  it('refuses a response rule id that cannot be one, before any API call', () => {
    const sample = authorize(
      { groupId: SG, ipPermissions: {} },
      { securityGroupRuleSet: { items: [{ securityGroupRuleId: 'sgr-xyz', ipProtocol: 'tcp' }] } },
    );
    expect(() => factsOf(sample)).toThrow(/detail\.responseElements\.securityGroupRuleSet\.items\.0\.securityGroupRuleId/);
  });

  it('reads ModifySecurityGroupRules with several rules, string ports, and ignores a prefix-list rule', () => {
    const sample = withDetail(loadSample(RULE, 'would-remediate.modify-security-group-rules-to-world-cidr'), {
      requestParameters: { ModifySecurityGroupRulesRequest: { GroupId: SG, SecurityGroupRule: [
        { SecurityGroupRuleId: 'sgr-0ccccccccccccccc3', SecurityGroupRule: { IpProtocol: 'udp', FromPort: '53', ToPort: '53', CidrIpv6: '::/0' } },
        { SecurityGroupRuleId: 'sgr-0ddddddddddddddd4', SecurityGroupRule: { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, PrefixListId: 'pl-0123456789abcdef0' } },
      ] } },
    });
    expect(factsOf(sample)).toMatchObject({ groupId: SG, modified: true, rules: [{ ruleId: 'sgr-0ccccccccccccccc3', protocol: 'udp', fromPort: 53, toPort: 53, cidr: '::/0' }] });
    expect(factsOf(sample).rules).toHaveLength(1);
  });
});

describe('open-security-group allowed ports', () => {
  const ssh = 'would-remediate.authorize-ipv4-world-ssh-with-rule-ids';

  it('lets a port stay world-open when configuration allows it', () => {
    const custom = { ...settings, allowedWorldPorts: [{ protocol: 'tcp' as const, port: 22 }] };
    expect(decideOn(loadSample(RULE, ssh), undefined, custom).kind).toBe('compliant');
    expect(decideOn(loadSample(RULE, ssh)).kind).toBe('violation');
  });

  it('treats a range as allowed only when every port in it is allowed', () => {
    const web = (fromPort: number, toPort: number): CidrRule => rule('sgr-0eeeeeeeeeeeeeee5', 'tcp', fromPort, toPort, '0.0.0.0/0');
    const allowed = [{ protocol: 'tcp' as const, port: 80 }, { protocol: 'tcp' as const, port: 81 }, { protocol: 'tcp' as const, port: 443 }];
    expect(isAllowedWorldRule(web(80, 81), allowed)).toBe(true);
    expect(isAllowedWorldRule(web(80, 82), allowed)).toBe(false);
    expect(isAllowedWorldRule(web(0, 1024), allowed)).toBe(false);
    expect(isAllowedWorldRule({ ...web(443, 443), protocol: 'udp' }, allowed)).toBe(false);
    expect(isAllowedWorldRule({ ...web(-1, -1), protocol: '-1' }, allowed)).toBe(false);
  });

  it('counts any /0 as the world and nothing narrower', () => {
    expect(['0.0.0.0/0', '::/0', '198.51.100.9/0', '0::0/0'].map(isWorldOpenCidr)).toEqual([true, true, true, true]);
    expect(['0.0.0.0/1', '10.0.0.0/8', '2001:db8::/32', '203.0.113.0/24'].map(isWorldOpenCidr)).toEqual([false, false, false, false]);
    expect(canonicalCidr('0::0/0')).toBe('::/0');
  });
});

describe('open-security-group decisions on the group as it is now', () => {
  const ssh = () => loadSample(RULE, 'would-remediate.authorize-ipv4-world-ssh-with-rule-ids');

  it('revokes the event\'s rule by id and leaves an older world-open rule alone, saying so', () => {
    const decision = decideOn(ssh(), stateWith(
      rule('sgr-00000000000001a01', 'tcp', 22, 22, '0.0.0.0/0'),
      rule('sgr-0f0f0f0f0f0f0f0f0', 'tcp', 8080, 8080, '0.0.0.0/0'),
      rule('sgr-0a0a0a0a0a0a0a0a0', 'tcp', 443, 443, '0.0.0.0/0'),
    ));
    expect(decision).toMatchObject({
      kind: 'violation',
      reason: expect.stringContaining('1 older world-open ingress rule(s) not from this event left alone'),
      resources: [{ type: 'AWS::EC2::SecurityGroup', id: SG, name: 'web' }],
      actions: [{ params: { GroupId: SG, SecurityGroupRuleIds: ['sgr-00000000000001a01'] } }],
    });
  });

  it('finds the rule by protocol, ports and source when the record has no rule ids', () => {
    const decision = decideOn(loadSample(RULE, 'would-remediate.authorize-world-ssh-without-rule-ids'), stateWith(
      rule('sgr-0123123123123123a', 'tcp', 22, 22, '203.0.113.0/24'),
      rule('sgr-0456456456456456b', 'tcp', 22, 22, '::/0'),
      rule('sgr-0789789789789789c', 'tcp', 22, 22, '0.0.0.0/0'),
    ));
    expect(decision).toMatchObject({ kind: 'violation', actions: [{ params: { GroupId: SG, SecurityGroupRuleIds: ['sgr-0789789789789789c'] } }] });
  });

  it('is compliant when the event\'s rule is no longer there (a stale event)', () => {
    const decision = decideOn(ssh(), stateWith(rule('sgr-0f0f0f0f0f0f0f0f0', 'tcp', 8080, 8080, '0.0.0.0/0')));
    expect(decision).toMatchObject({ kind: 'compliant', reason: expect.stringContaining('no world-open rule from this event') });
  });

  it('is compliant when the modified rule is now private again', () => {
    const sample = loadSample(RULE, 'would-remediate.modify-security-group-rules-to-world-cidr');
    expect(decideOn(sample, stateWith(rule('sgr-00000000000002a01', 'tcp', 22, 22, '198.51.100.7/32'))).kind).toBe('compliant');
    expect(decideOn(sample, stateWith(rule('sgr-00000000000002a01', 'tcp', 22, 22, '0.0.0.0/0'))).kind).toBe('violation');
  });

  it('never sees egress, prefix-list or group-sourced rules of the group', () => {
    expect(fromSdkRule({ SecurityGroupRuleId: 'sgr-01', IsEgress: true, IpProtocol: '-1', CidrIpv4: '0.0.0.0/0' })).toBeUndefined();
    expect(fromSdkRule({ SecurityGroupRuleId: 'sgr-02', IsEgress: false, IpProtocol: 'tcp', FromPort: 22, ToPort: 22, PrefixListId: 'pl-0123' })).toBeUndefined();
    expect(fromSdkRule({ SecurityGroupRuleId: 'sgr-03', IsEgress: false, IpProtocol: '-1', ReferencedGroupInfo: { GroupId: SG } })).toBeUndefined();
    expect(fromSdkRule({ SecurityGroupRuleId: 'sgr-04', IsEgress: false, IpProtocol: '-1', FromPort: -1, ToPort: -1, CidrIpv6: '::/0' }))
      .toEqual({ ruleId: 'sgr-04', protocol: '-1', fromPort: -1, toPort: -1, cidr: '::/0', description: undefined });
  });
});
