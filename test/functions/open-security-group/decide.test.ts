import { describe, expect, it } from 'vitest';
import { openSecurityGroup, type GroupFacts, type GroupState } from '../../../functions/open-security-group/rule.js';
import { canonicalCidr, fromSdkRule, isAllowedWorldRule, isWorldOpenCidr, type CidrRule } from '../../../shared/ec2/world-open.js';
import { parseConfig } from '../../../shared/config.js';
import { ConfigError, ParseError } from '../../../shared/errors.js';
import { parseEnvelope, toEnvelopeJson } from '../../../shared/events/schema.js';
import { expectedOutcome, loadSample, runSample, sampleConfig, sampleNames, withDetail } from '../../helpers/samples.js';
import { reversalLines } from '../../../shared/actions/reversal.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';

/** The record as a live run would end it: its planned writes done and read back. */
const done = (record: RemediationRecord): RemediationRecord => ({
  ...record,
  outcome: 'remediated',
  mode: 'live',
  actions: record.actions.map((a) => ({ ...a, status: 'done' as const, verification: { ok: true, detail: 'read back' } })),
});

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

const rule = (ruleId: string, protocol: string, fromPort: number, toPort: number, cidr: string): CidrRule => ({
  ruleId,
  protocol,
  fromPort,
  toPort,
  cidr,
  description: undefined,
});
const stateWith = (...ingress: CidrRule[]): GroupState => ({ groupId: SG, groupName: 'web', ingress });

describe('open-security-group offline decisions over events/open-security-group', () => {
  it.each(sampleNames(RULE))('%s ends in the outcome its name states', async (name) => {
    const { record } = await runSample(openSecurityGroup, name);
    expect(record.outcome).toBe(expectedOutcome(name));
    expect(record.rule).toBe(RULE);
  });

  it('plans a revoke of exactly the not-allowed world rules of a mixed call, by their response ids', async () => {
    const { record } = await runSample(openSecurityGroup, 'would-remediate.authorize-several-permissions-mixed-allowed-and-not');
    expect(record.actions).toEqual([
      expect.objectContaining({
        api: 'EC2.RevokeSecurityGroupIngress',
        params: { GroupId: SG, SecurityGroupRuleIds: ['sgr-00000000000001d03', 'sgr-00000000000001d05'] },
      }),
    ]);
    expect(record.reason).toContain('tcp 22 from 0.0.0.0/0');
    expect(record.reason).toContain('tcp 5432 from ::/0');
    expect(record.reason).not.toContain('443');
    expect(record.reason).not.toContain('198.51.100.0/24');
  });

  it('rates all protocols from the world CRITICAL and a single port HIGH', async () => {
    const all = await runSample(openSecurityGroup, 'would-remediate.authorize-all-protocols-ipv4-and-ipv6-world');
    const ssh = await runSample(openSecurityGroup, 'would-remediate.authorize-ipv4-world-ssh-with-rule-ids');
    expect(all.record).toMatchObject({
      severity: 'CRITICAL',
      actions: [{ params: { SecurityGroupRuleIds: ['sgr-00000000000001c01', 'sgr-00000000000001c02'] } }],
    });
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
    expect(record.actions[0]?.previous).toEqual({
      SecurityGroupRules: [
        {
          SecurityGroupRuleId: 'sgr-00000000000001b01',
          IsEgress: false,
          IpProtocol: 'tcp',
          FromPort: 3389,
          ToPort: 3389,
          CidrIpv6: '::/0',
          Description: 'remote desktop',
        },
      ],
    });
    expect(deps.published[0]?.subject).toMatch(/^\[HIGH\] Would revoke world-open ingress on sg-0123456789abcdef0 in 111122223333\/eu-west-1$/);
    // Nothing was changed: no "To reverse" for a change never made (issue 17). Done, the notifier adds the command from
    // the action type's reversal (the rule's message only describes the rules).
    expect(deps.published[0]?.text).toContain('Rule: tcp 3389 from ::/0 (sgr-00000000000001b01), description "remote desktop"');
    expect(deps.published[0]?.text).not.toContain('To reverse');
    expect(reversalLines(openSecurityGroup.actions, done(record))[0]).toBe(
      `To reverse: aws ec2 authorize-security-group-ingress --region 'eu-west-1' --group-id '${SG}' --ip-permissions '[{"IpProtocol":"tcp","FromPort":3389,"ToPort":3389,"Ipv6Ranges":[{"CidrIpv6":"::/0","Description":"remote desktop"}]}]'`,
    );
    expect(openSecurityGroup.message(record).lines).toEqual(['Rule: tcp 3389 from ::/0 (sgr-00000000000001b01), description "remote desktop"']);
  });

  it('says how to re-create a rule of a group the record names only by name, by that name', async () => {
    const { record } = await runSample(openSecurityGroup, 'would-remediate.authorize-group-name-only-default-vpc');
    expect(reversalLines(openSecurityGroup.actions, done(record))).toEqual([
      `To reverse: aws ec2 authorize-security-group-ingress --region 'eu-west-1' --group-name 'launch-wizard-1' --ip-permissions '[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]'`,
      expect.stringContaining('Pasted as is, the reverse command is itself a call this rule remediates within seconds'),
    ]);
  });
});

describe('open-security-group parse', () => {
  it('tolerates missing, empty and single-object EC2 lists', () => {
    const facts = factsOf(
      authorize({
        groupId: SG,
        ipPermissions: { items: { ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: { items: { cidrIp: '0.0.0.0/0' } } } },
      }),
    );
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
      {
        _return: true,
        securityGroupRuleSet: {
          items: [
            { securityGroupRuleId: 'sgr-0aaaaaaaaaaaaaaa1', groupId: SG, isEgress: false, ipProtocol: 'tcp', fromPort: 23, toPort: 23, cidrIpv4: '0.0.0.0/0' },
          ],
        },
      },
    );
    expect(factsOf(sample).rules[0]?.ruleId).toBe('sgr-0aaaaaaaaaaaaaaa1');
    expect(decideOn(sample)).toMatchObject({ kind: 'violation', actions: [{ params: { SecurityGroupRuleIds: ['sgr-0aaaaaaaaaaaaaaa1'] } }] });
  });

  it('takes the group id from the response when the request named the group only by name', () => {
    const sample = authorize(
      {
        groupName: 'launch-wizard-2',
        ipPermissions: { items: [{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } }] },
      },
      {
        securityGroupRuleSet: {
          items: [
            {
              securityGroupRuleId: 'sgr-0bbbbbbbbbbbbbbb2',
              groupId: 'sg-0fedcba9876543210',
              isEgress: false,
              ipProtocol: 'tcp',
              fromPort: 22,
              toPort: 22,
              cidrIpv4: '0.0.0.0/0',
            },
          ],
        },
      },
    );
    expect(factsOf(sample)).toMatchObject({ groupId: 'sg-0fedcba9876543210', resources: [{ id: 'sg-0fedcba9876543210', name: 'launch-wizard-2' }] });
  });

  it.each([
    ['a redacted group id', { groupId: '...', ipPermissions: {} }, /detail\.requestParameters\.groupId/],
    ['a too-short group id', { groupId: 'sg-1', ipPermissions: {} }, /detail\.requestParameters\.groupId/],
    ['neither group id nor name', { ipPermissions: {} }, /detail\.requestParameters\.groupId: expected a security group id or name/],
    ['a port out of range', { groupId: SG, ipPermissions: { items: [{ ipProtocol: 'tcp', fromPort: 22, toPort: 70000 }] } }, /ipPermissions\.items\.0\.toPort/],
    [
      'a CIDR that is not one',
      { groupId: SG, ipPermissions: { items: [{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: { items: [{ cidrIp: 'anywhere' }] } }] } },
      /ipRanges\.items\.0\.cidrIp/,
    ],
  ])('refuses %s, naming the field', (_, request, field) => {
    expect(() => factsOf(authorize(request))).toThrow(ParseError);
    expect(() => factsOf(authorize(request))).toThrow(field);
  });

  it('refuses a response rule id that cannot be one, before any API call', () => {
    const sample = authorize({ groupId: SG, ipPermissions: {} }, { securityGroupRuleSet: { items: [{ securityGroupRuleId: 'sgr-xyz', ipProtocol: 'tcp' }] } });
    expect(() => factsOf(sample)).toThrow(/detail\.responseElements\.securityGroupRuleSet\.items\.0\.securityGroupRuleId/);
  });

  it('reads ModifySecurityGroupRules with several rules, string ports, and ignores a prefix-list rule', () => {
    const sample = withDetail(loadSample(RULE, 'would-remediate.modify-security-group-rules-to-world-cidr'), {
      requestParameters: {
        ModifySecurityGroupRulesRequest: {
          GroupId: SG,
          SecurityGroupRule: [
            { SecurityGroupRuleId: 'sgr-0ccccccccccccccc3', SecurityGroupRule: { IpProtocol: 'udp', FromPort: '53', ToPort: '53', CidrIpv6: '::/0' } },
            {
              SecurityGroupRuleId: 'sgr-0ddddddddddddddd4',
              SecurityGroupRule: { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, PrefixListId: 'pl-0123456789abcdef0' },
            },
          ],
        },
      },
    });
    expect(factsOf(sample)).toMatchObject({
      groupId: SG,
      modified: true,
      rules: [{ ruleId: 'sgr-0ccccccccccccccc3', protocol: 'udp', fromPort: 53, toPort: 53, cidr: '::/0' }],
    });
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
    const allowed = [
      { protocol: 'tcp' as const, port: 80 },
      { protocol: 'tcp' as const, port: 81 },
      { protocol: 'tcp' as const, port: 443 },
    ];
    expect(isAllowedWorldRule(web(80, 81), allowed)).toBe(true);
    expect(isAllowedWorldRule(web(80, 82), allowed)).toBe(false);
    expect(isAllowedWorldRule(web(0, 1024), allowed)).toBe(false);
    expect(isAllowedWorldRule({ ...web(443, 443), protocol: 'udp' }, allowed)).toBe(false);
    expect(isAllowedWorldRule({ ...web(-1, -1), protocol: '-1' }, allowed)).toBe(false);
  });

  it('counts a range wider than /8 (IPv4) or /16 (IPv6) as the world, but not the prefix itself nor a private range', () => {
    const isWorld = (cidr: string) => isWorldOpenCidr(cidr);
    expect(['0.0.0.0/0', '::/0', '198.51.100.9/0', '0::0/0', '0.0.0.0/1', '64.0.0.0/4', '12.0.0.0/7', '2000::/15'].map(isWorld)).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      true,
    ]);
    // 11.0.0.0/7 is 10.0.0.0/7: one private /8 and one public /8, no more of the internet than a /8.
    expect(['11.0.0.0/8', '10.0.0.0/8', '11.0.0.0/7', '2001:db8::/32', '2001::/16', '203.0.113.0/24', 'fc00::/7', 'not-a-cidr'].map(isWorld)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(canonicalCidr('0::0/0')).toBe('::/0');
    expect(canonicalCidr('98.51.100.9/1')).toBe('0.0.0.0/1');
  });

  it('takes the prefix from configuration: 1 keeps only /0 as the world', () => {
    expect(isWorldOpenCidr('0.0.0.0/1', { ipv4: 1, ipv6: 1 })).toBe(false);
    expect(isWorldOpenCidr('0.0.0.0/0', { ipv4: 1, ipv6: 1 })).toBe(true);
    expect(isWorldOpenCidr('11.0.0.0/12', { ipv4: 16, ipv6: 48 })).toBe(true);
    expect(isWorldOpenCidr('172.16.0.0/12', { ipv4: 16, ipv6: 48 })).toBe(false);
  });
});

describe('open-security-group decisions on the group as it is now', () => {
  const ssh = () => loadSample(RULE, 'would-remediate.authorize-ipv4-world-ssh-with-rule-ids');

  it("revokes the event's rule by id and leaves an older world-open rule alone, saying so", () => {
    const decision = decideOn(
      ssh(),
      stateWith(
        rule('sgr-00000000000001a01', 'tcp', 22, 22, '0.0.0.0/0'),
        rule('sgr-0f0f0f0f0f0f0f0f0', 'tcp', 8080, 8080, '0.0.0.0/0'),
        rule('sgr-0a0a0a0a0a0a0a0a0', 'tcp', 443, 443, '0.0.0.0/0'),
      ),
    );
    expect(decision).toMatchObject({
      kind: 'violation',
      reason: expect.stringContaining('1 older world-open ingress rule(s) not from this event left alone: tcp 8080 from 0.0.0.0/0 (sgr-0f0f0f0f0f0f0f0f0)'),
      resources: [{ type: 'AWS::EC2::SecurityGroup', id: SG, name: 'web' }],
      actions: [{ params: { GroupId: SG, SecurityGroupRuleIds: ['sgr-00000000000001a01'] } }],
    });
  });

  it('finds the rule by protocol, ports and source when the record has no rule ids', () => {
    const decision = decideOn(
      loadSample(RULE, 'would-remediate.authorize-world-ssh-without-rule-ids'),
      stateWith(
        rule('sgr-0123123123123123a', 'tcp', 22, 22, '203.0.113.0/24'),
        rule('sgr-0456456456456456b', 'tcp', 22, 22, '::/0'),
        rule('sgr-0789789789789789c', 'tcp', 22, 22, '0.0.0.0/0'),
      ),
    );
    expect(decision).toMatchObject({ kind: 'violation', actions: [{ params: { GroupId: SG, SecurityGroupRuleIds: ['sgr-0789789789789789c'] } }] });
  });

  it("is compliant when the event's rule is no longer there (a stale event)", () => {
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
    expect(
      fromSdkRule({ SecurityGroupRuleId: 'sgr-02', IsEgress: false, IpProtocol: 'tcp', FromPort: 22, ToPort: 22, PrefixListId: 'pl-0123' }),
    ).toBeUndefined();
    expect(fromSdkRule({ SecurityGroupRuleId: 'sgr-03', IsEgress: false, IpProtocol: '-1', ReferencedGroupInfo: { GroupId: SG } })).toBeUndefined();
    expect(fromSdkRule({ SecurityGroupRuleId: 'sgr-04', IsEgress: false, IpProtocol: '-1', FromPort: -1, ToPort: -1, CidrIpv6: '::/0' })).toEqual({
      ruleId: 'sgr-04',
      protocol: '-1',
      fromPort: -1,
      toPort: -1,
      cidr: '::/0',
      description: undefined,
    });
  });
});

describe('open-security-group: world-open means wider than a prefix, or a set adding up to the world (item 10)', () => {
  const HALVES = 'would-remediate.authorize-ssh-from-two-halves-of-ipv4';
  const sshRule = (ruleId: string, cidr: string) => rule(ruleId, 'tcp', 22, 22, cidr);

  it('plans to revoke both /1 halves of IPv4 by their response ids', async () => {
    const { record } = await runSample(openSecurityGroup, HALVES);
    expect(record).toMatchObject({
      outcome: 'would-remediate',
      reason: expect.stringContaining('tcp 22 from 0.0.0.0/1 (sgr-00000000000005a01); tcp 22 from 128.0.0.0/1 (sgr-00000000000005a02)'),
      actions: [{ params: { GroupId: SG, SecurityGroupRuleIds: ['sgr-00000000000005a01', 'sgr-00000000000005a02'] } }],
    });
  });

  it('adds up the ranges of one call even when only a /0 counts by itself', () => {
    const slashZeroOnly = { ...settings, worldOpenPrefix: { ipv4: 1, ipv6: 1 } };
    const decision = decideOn(loadSample(RULE, HALVES), undefined, slashZeroOnly);
    expect(decision).toMatchObject({
      kind: 'violation',
      reason: expect.stringContaining('with the other sources for the same traffic: a non-private range wider than /1 for IPv4'),
      actions: [{ params: { SecurityGroupRuleIds: ['sgr-00000000000005a01', 'sgr-00000000000005a02'] } }],
    });
    const oneHalf = authorize({
      groupId: SG,
      ipPermissions: { items: [{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: { items: [{ cidrIp: '0.0.0.0/1' }] } }] },
    });
    expect(decideOn(oneHalf, undefined, slashZeroOnly).kind).toBe('compliant');
    expect(decideOn(oneHalf).kind).toBe('violation');
  });

  it('reads a /4 as world-open and a /8 as not, by default', async () => {
    const slash4 = await runSample(openSecurityGroup, 'would-remediate.authorize-rdp-from-a-slash-4');
    const slash8 = authorize({
      groupId: SG,
      ipPermissions: { items: [{ ipProtocol: 'tcp', fromPort: 3389, toPort: 3389, ipRanges: { items: [{ cidrIp: '64.0.0.0/8' }] } }] },
    });
    expect(slash4.record).toMatchObject({ outcome: 'would-remediate', actions: [{ params: { SecurityGroupRuleIds: ['sgr-00000000000005b01'] } }] });
    expect(decideOn(slash8)).toMatchObject({ kind: 'compliant', reason: 'the request opens no disallowed port of sg-0123456789abcdef0 to the world' });
  });

  it("in dry-run and live adds up the group's rules for the same traffic, and revokes only the event's", () => {
    // The event adds 13.0.0.0/8 to a group that already allows 12.0.0.0/8: together 12.0.0.0/7, wider than /8.
    const event = authorize(
      { groupId: SG, ipPermissions: { items: [{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: { items: [{ cidrIp: '13.0.0.0/8' }] } }] } },
      {
        securityGroupRuleSet: {
          items: [
            { securityGroupRuleId: 'sgr-0aaaaaaaaaaaaaaa1', groupId: SG, isEgress: false, ipProtocol: 'tcp', fromPort: 22, toPort: 22, cidrIpv4: '13.0.0.0/8' },
          ],
        },
      },
    );
    const older = sshRule('sgr-0bbbbbbbbbbbbbbb2', '12.0.0.0/8');
    const added = sshRule('sgr-0aaaaaaaaaaaaaaa1', '13.0.0.0/8');
    expect(decideOn(event)).toMatchObject({ kind: 'compliant' });
    expect(decideOn(event, stateWith(older, added))).toMatchObject({
      kind: 'violation',
      reason: expect.stringContaining('1 older world-open ingress rule(s) not from this event left alone: tcp 22 from 12.0.0.0/8 (sgr-0bbbbbbbbbbbbbbb2)'),
      actions: [{ params: { GroupId: SG, SecurityGroupRuleIds: ['sgr-0aaaaaaaaaaaaaaa1'] } }],
    });
    expect(decideOn(event, stateWith(sshRule('sgr-0bbbbbbbbbbbbbbb2', '11.0.0.0/8'), added)).kind).toBe('compliant');
  });

  it('keeps an office range nested in the world-open halves', () => {
    const decision = decideOn(
      loadSample(RULE, HALVES),
      stateWith(
        sshRule('sgr-00000000000005a01', '0.0.0.0/1'),
        sshRule('sgr-00000000000005a02', '128.0.0.0/1'),
        sshRule('sgr-0cccccccccccccccc', '203.0.113.0/24'),
      ),
    );
    expect(decision).toMatchObject({ kind: 'violation', actions: [{ params: { SecurityGroupRuleIds: ['sgr-00000000000005a01', 'sgr-00000000000005a02'] } }] });
    expect(decision.reason).not.toContain('203.0.113.0/24');
  });
});

describe('open-security-group: the worldOpenPrefix setting', () => {
  it('defaults to /8 for IPv4 and /16 for IPv6', () => {
    expect(parseConfig({}).rules['open-security-group'].worldOpenPrefix).toEqual({ ipv4: 8, ipv6: 16 });
    expect(parseConfig({ rules: { 'open-security-group': { worldOpenPrefix: { ipv4: 12 } } } }).rules['open-security-group'].worldOpenPrefix).toEqual({
      ipv4: 12,
      ipv6: 16,
    });
  });

  it.each([
    ['an IPv4 prefix of 0 (nothing would be the world)', { ipv4: 0 }, /worldOpenPrefix\.ipv4/],
    ['an IPv4 prefix past /16', { ipv4: 17 }, /worldOpenPrefix\.ipv4/],
    ['an IPv6 prefix past /48', { ipv6: 49 }, /worldOpenPrefix\.ipv6/],
    ['a fraction', { ipv6: 16.5 }, /worldOpenPrefix\.ipv6/],
    ['a string', { ipv4: '8' }, /worldOpenPrefix\.ipv4/],
    ['an unknown key', { ipv5: 8 }, /worldOpenPrefix/],
  ])('refuses %s', (_, worldOpenPrefix, path) => {
    const raw = { rules: { 'open-security-group': { worldOpenPrefix } } };
    expect(() => parseConfig(raw)).toThrow(ConfigError);
    expect(() => parseConfig(raw)).toThrow(path);
  });
});

describe('open-security-group: a response that names another group (item 16)', () => {
  const OTHER = 'sg-0fedcba9876543210';
  const request = { groupId: SG, ipPermissions: { items: [{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } }] } };
  const foreign = authorize(request, {
    securityGroupRuleSet: {
      items: [
        { securityGroupRuleId: 'sgr-0999999999999999f', groupId: OTHER, isEgress: false, ipProtocol: 'tcp', fromPort: 22, toPort: 22, cidrIpv4: '0.0.0.0/0' },
      ],
    },
  });

  it("drops the other group's rule ids from the facts, and says so", () => {
    expect(factsOf(foreign)).toMatchObject({ groupId: SG, foreignRuleIds: ['sgr-0999999999999999f'], rules: [{ ruleId: undefined, cidr: '0.0.0.0/0' }] });
  });

  it("offline judges from the request: a revoke by content on the request's group", () => {
    expect(decideOn(foreign)).toMatchObject({
      kind: 'violation',
      reason: expect.stringContaining('response rule id(s) not of this group ignored: sgr-0999999999999999f'),
      actions: [{ params: { GroupId: SG, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] } }],
    });
  });

  it('dry-run and live find the rule in the group by content, never a silent compliant', () => {
    const decision = decideOn(foreign, stateWith(rule('sgr-0123456789abcdef1', 'tcp', 22, 22, '0.0.0.0/0')));
    expect(decision).toMatchObject({ kind: 'violation', actions: [{ params: { GroupId: SG, SecurityGroupRuleIds: ['sgr-0123456789abcdef1'] } }] });
  });

  it('finds the rule by content when the response claims this group but names a rule id the group does not hold', () => {
    const claimed = authorize(request, {
      securityGroupRuleSet: {
        items: [
          { securityGroupRuleId: 'sgr-0999999999999999f', groupId: SG, isEgress: false, ipProtocol: 'tcp', fromPort: 22, toPort: 22, cidrIpv4: '0.0.0.0/0' },
        ],
      },
    });
    const decision = decideOn(
      claimed,
      stateWith(rule('sgr-0123456789abcdef1', 'tcp', 22, 22, '0.0.0.0/0'), rule('sgr-0f0f0f0f0f0f0f0f0', 'tcp', 8080, 8080, '0.0.0.0/0')),
    );
    expect(decision).toMatchObject({ kind: 'violation', actions: [{ params: { GroupId: SG, SecurityGroupRuleIds: ['sgr-0123456789abcdef1'] } }] });
    expect(decision.reason).toContain('left alone: tcp 8080 from 0.0.0.0/0 (sgr-0f0f0f0f0f0f0f0f0)');
  });

  it('takes no group id nor rule ids from a response naming two groups for a name-only request', () => {
    const sample = authorize(
      { groupName: 'launch-wizard-3', ipPermissions: request.ipPermissions },
      {
        securityGroupRuleSet: {
          items: [
            { securityGroupRuleId: 'sgr-0aaaaaaaaaaaaaaa1', groupId: SG, isEgress: false, ipProtocol: 'tcp', fromPort: 22, toPort: 22, cidrIpv4: '0.0.0.0/0' },
            {
              securityGroupRuleId: 'sgr-0bbbbbbbbbbbbbbb2',
              groupId: OTHER,
              isEgress: false,
              ipProtocol: 'tcp',
              fromPort: 22,
              toPort: 22,
              cidrIpv4: '0.0.0.0/0',
            },
          ],
        },
      },
    );
    expect(factsOf(sample)).toMatchObject({
      groupId: undefined,
      groupName: 'launch-wizard-3',
      rules: [{ ruleId: undefined }],
      foreignRuleIds: ['sgr-0aaaaaaaaaaaaaaa1', 'sgr-0bbbbbbbbbbbbbbb2'],
    });
  });

  it("keeps using the ids of a response that names the request's own group", () => {
    expect(factsOf(loadSample(RULE, 'would-remediate.authorize-ipv4-world-ssh-with-rule-ids'))).toMatchObject({
      foreignRuleIds: [],
      rules: [{ ruleId: 'sgr-00000000000001a01' }],
    });
  });
});

describe('open-security-group: the reason names the older world-open rules it left alone (item 21)', () => {
  const ssh = () => loadSample(RULE, 'would-remediate.authorize-ipv4-world-ssh-with-rule-ids');
  const event = rule('sgr-00000000000001a01', 'tcp', 22, 22, '0.0.0.0/0');
  const older = (n: number) => rule(`sgr-0${String(n).padStart(16, '0')}`, 'tcp', 8000 + n, 8000 + n, n % 2 ? '0.0.0.0/0' : '::/0');

  it('names each by rule id, port, protocol and source', () => {
    const decision = decideOn(ssh(), stateWith(event, older(1), older(2)));
    expect(decision.reason).toContain(
      '2 older world-open ingress rule(s) not from this event left alone: tcp 8001 from 0.0.0.0/0 (sgr-00000000000000001); tcp 8002 from ::/0 (sgr-00000000000000002)',
    );
    expect(decision).toMatchObject({ kind: 'violation', actions: [{ params: { SecurityGroupRuleIds: ['sgr-00000000000001a01'] } }] });
  });

  it('names the first five and counts the rest', () => {
    const decision = decideOn(ssh(), stateWith(event, ...[1, 2, 3, 4, 5, 6, 7, 8].map(older)));
    expect(decision.reason).toContain('8 older world-open ingress rule(s) not from this event left alone: tcp 8001 from 0.0.0.0/0 (sgr-00000000000000001);');
    expect(decision.reason).toContain('tcp 8005 from 0.0.0.0/0 (sgr-00000000000000005) and 3 more');
    expect(decision.reason).not.toContain('sgr-00000000000000006');
  });

  it('names them on a compliant decision too', () => {
    const decision = decideOn(ssh(), stateWith(older(1)));
    expect(decision).toMatchObject({ kind: 'compliant', reason: expect.stringContaining('left alone: tcp 8001 from 0.0.0.0/0 (sgr-00000000000000001)') });
  });
});
