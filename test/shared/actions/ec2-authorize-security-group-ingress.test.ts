import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RULES } from '../../../functions/rules.js';
import { stepOf, type AnyActionType, type Step } from '../../../shared/actions/action.js';
import { authorizeSecurityGroupIngress, type AuthorizeSecurityGroupIngressParams } from '../../../shared/actions/ec2-authorize-security-group-ingress.js';
import type { GroupRulesPrevious } from '../../../shared/ec2/group-rules.js';
import { AwsCallError } from '../../../shared/errors.js';

const ec2 = mockClient(EC2Client);
const clients = { ec2: new EC2Client({ region: 'eu-west-1' }) };
const SG = 'sg-0123456789abcdef0';
const resource = { type: 'AWS::EC2::SecurityGroup', id: SG, region: 'eu-west-1' };
const SSH = { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'ssh' }] };
const PG = { IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, Ipv6Ranges: [{ CidrIpv6: '::/0', Description: 'postgres' }] };

const awsError = (name: string, status = 400) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
const ingress = (id: string, fields: Partial<SecurityGroupRule>): SecurityGroupRule => ({ SecurityGroupRuleId: id, GroupId: SG, IsEgress: false, ...fields });
const stepFor = (params: unknown, region = 'eu-west-1') =>
  stepOf(authorizeSecurityGroupIngress, { api: 'EC2.AuthorizeSecurityGroupIngress', resource, params, previous: { SecurityGroupRules: [] } }, region) as Step<
    AuthorizeSecurityGroupIngressParams,
    GroupRulesPrevious
  >;

beforeEach(() => {
  ec2.reset();
  ec2.rejects(new Error('unexpected EC2 call')); // unmocked calls fail loudly
});
afterEach(() => ec2.reset());

describe('EC2.AuthorizeSecurityGroupIngress params', () => {
  it('takes CIDR permissions on a group named by id or by name', () => {
    expect(stepFor({ GroupId: SG, IpPermissions: [SSH, PG] }).params).toEqual({ GroupId: SG, IpPermissions: [SSH, PG] });
    expect(stepFor({ GroupName: 'launch-wizard-1', IpPermissions: [SSH] }).params).toEqual({ GroupName: 'launch-wizard-1', IpPermissions: [SSH] });
  });

  it.each([
    ['a group id that is not one', { GroupId: "sg-0123'$(id)", IpPermissions: [SSH] }],
    ['no permission', { GroupId: SG, IpPermissions: [] }],
    ['both the group id and its name', { GroupId: SG, GroupName: 'web', IpPermissions: [SSH] }],
    ['a source group (trailguard only re-creates CIDR rules)', { GroupId: SG, IpPermissions: [{ ...SSH, UserIdGroupPairs: [{ GroupId: SG }] }] }],
    ['a range that is not a CIDR block', { GroupId: SG, IpPermissions: [{ ...SSH, IpRanges: [{ CidrIp: '0.0.0.0/0; id' }] }] }],
    ['a protocol EC2 does not spell so', { GroupId: SG, IpPermissions: [{ ...SSH, IpProtocol: 'tcp;id' }] }],
  ])('refuses %s (invalid, never performed)', (_what, params) => {
    expect(() => stepFor(params)).toThrow(AwsCallError);
    expect(() => stepFor(params)).toThrow(expect.objectContaining({ kind: 'invalid', code: 'InvalidActionParams' }));
  });
});

describe('EC2.AuthorizeSecurityGroupIngress perform', () => {
  it('authorizes the permissions as given', async () => {
    ec2.on(AuthorizeSecurityGroupIngressCommand).resolves({ Return: true });
    await authorizeSecurityGroupIngress.perform(stepFor({ GroupId: SG, IpPermissions: [SSH, PG] }), clients);
    expect(ec2).toHaveReceivedCommandWith(AuthorizeSecurityGroupIngressCommand, { GroupId: SG, IpPermissions: [SSH, PG] });
  });

  it('tolerates a rule someone re-created already (the read-back decides)', async () => {
    ec2.on(AuthorizeSecurityGroupIngressCommand).rejects(awsError('InvalidPermission.Duplicate'));
    await expect(authorizeSecurityGroupIngress.perform(stepFor({ GroupId: SG, IpPermissions: [SSH] }), clients)).resolves.toBeUndefined();
  });

  it('rethrows any other error', async () => {
    ec2.on(AuthorizeSecurityGroupIngressCommand).rejects(awsError('InvalidGroup.NotFound'));
    await expect(authorizeSecurityGroupIngress.perform(stepFor({ GroupId: SG, IpPermissions: [SSH] }), clients)).rejects.toThrow('InvalidGroup.NotFound');
  });
});

describe('EC2.AuthorizeSecurityGroupIngress verify', () => {
  it('is ok when every wanted rule is on the group (protocol by number, host bits set, all the same)', async () => {
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({
      SecurityGroupRules: [
        ingress('sgr-00000000000009a01', { IpProtocol: '6', FromPort: 22, ToPort: 22, CidrIpv4: '0.0.0.0/0' }),
        ingress('sgr-00000000000009a02', { IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, CidrIpv6: '::/0' }),
      ],
    });
    expect(await authorizeSecurityGroupIngress.verify(stepFor({ GroupId: SG, IpPermissions: [SSH, PG] }), clients)).toEqual({
      ok: true,
      detail: `${SG} reads back with all 2 rule(s) present`,
    });
    expect(ec2).toHaveReceivedCommandWith(DescribeSecurityGroupRulesCommand, { Filters: [{ Name: 'group-id', Values: [SG] }] });
  });

  it('is not ok, naming each rule missing; an egress rule of the same content does not count', async () => {
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({
      SecurityGroupRules: [
        ingress('sgr-00000000000009a01', { IsEgress: true, IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIpv4: '0.0.0.0/0' }),
        ingress('sgr-00000000000009a02', { IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, CidrIpv6: '::/0' }),
      ],
    });
    expect(await authorizeSecurityGroupIngress.verify(stepFor({ GroupId: SG, IpPermissions: [SSH, PG] }), clients)).toEqual({
      ok: false,
      detail: `${SG} lacks tcp 22-22 from 0.0.0.0/0`,
    });
  });

  it('reads a name-only group by its id', async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: SG, GroupName: 'launch-wizard-1' }] });
    ec2
      .on(DescribeSecurityGroupRulesCommand)
      .resolves({ SecurityGroupRules: [ingress('sgr-00000000000009a01', { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIpv4: '0.0.0.0/0' })] });
    expect(await authorizeSecurityGroupIngress.verify(stepFor({ GroupName: 'launch-wizard-1', IpPermissions: [SSH] }), clients)).toMatchObject({ ok: true });
    expect(ec2).toHaveReceivedCommandWith(DescribeSecurityGroupsCommand, { GroupNames: ['launch-wizard-1'] });
    expect(ec2).toHaveReceivedCommandWith(DescribeSecurityGroupRulesCommand, { Filters: [{ Name: 'group-id', Values: [SG] }] });
  });
});

describe('EC2.AuthorizeSecurityGroupIngress as data', () => {
  it("is an operator's undo: nothing reverses it", () => {
    const type: AnyActionType = authorizeSecurityGroupIngress;
    expect(type.reverse(stepFor({ GroupId: SG, IpPermissions: [SSH] }))).toEqual({ kind: 'none', why: expect.stringContaining('remove its exemption') });
  });

  it('needs ec2:AuthorizeSecurityGroupIngress, has no self signature, and retriggers: open-security-group acts on it', () => {
    expect(authorizeSecurityGroupIngress).toMatchObject({
      api: 'EC2.AuthorizeSecurityGroupIngress',
      iam: 'ec2:AuthorizeSecurityGroupIngress',
      clients: ['ec2'],
      retriggers: true,
    });
    expect('signature' in authorizeSecurityGroupIngress).toBe(false);
    const acting = RULES.filter((rule) => JSON.stringify(rule.pattern).includes('"AuthorizeSecurityGroupIngress"'));
    expect(acting.map((rule) => rule.id)).toEqual(['open-security-group']);
  });

  it('describes every rule it re-creates', () => {
    expect(authorizeSecurityGroupIngress.describe(stepFor({ GroupId: SG, IpPermissions: [SSH, PG] }))).toBe(
      `re-authorize 2 revoked ingress rule(s) on ${SG}: tcp 22-22 from 0.0.0.0/0; tcp 5432-5432 from ::/0`,
    );
    expect(
      authorizeSecurityGroupIngress.describe(stepFor({ GroupName: 'default', IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] })),
    ).toBe('re-authorize 1 revoked ingress rule(s) on default: all traffic from 0.0.0.0/0');
  });
});

describe('EC2.AuthorizeSecurityGroupIngress command', () => {
  const raw = (params: AuthorizeSecurityGroupIngressParams, region = 'eu-west-1'): Step<AuthorizeSecurityGroupIngressParams, GroupRulesPrevious> => ({
    api: 'EC2.AuthorizeSecurityGroupIngress',
    resource,
    params,
    previous: undefined,
    region,
  });

  it('is complete: Region, group, and the permissions as one quoted JSON value', () => {
    expect(authorizeSecurityGroupIngress.command(stepFor({ GroupId: SG, IpPermissions: [SSH] }))).toBe(
      `aws ec2 authorize-security-group-ingress --region 'eu-west-1' --group-id '${SG}' --ip-permissions '[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0","Description":"ssh"}]}]'`,
    );
  });

  it('quotes a hostile (but valid) group name and description', () => {
    const step = stepFor({ GroupName: "x'; rm -rf ~; echo '", IpPermissions: [{ ...SSH, IpRanges: [{ CidrIp: '0.0.0.0/0', Description: "a'$(id)" }] }] });
    expect(authorizeSecurityGroupIngress.command(step)).toBe(
      `aws ec2 authorize-security-group-ingress --region 'eu-west-1' --group-name 'x'\\''; rm -rf ~; echo '\\''' `
        + `--ip-permissions '[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0","Description":"a'\\''$(id)"}]}]'`,
    );
  });

  it('gives no command for a group id or Region no API takes, even on a step built around validation', () => {
    expect(authorizeSecurityGroupIngress.command(raw({ GroupId: "sg-1' && id && '", IpPermissions: [SSH] }))).toBe(
      'no command: the security group id in the event is not a valid security group id',
    );
    expect(authorizeSecurityGroupIngress.command(raw({ GroupName: 'web\n', IpPermissions: [SSH] }))).toBe(
      'no command: the security group name in the event is not a valid security group name',
    );
    expect(authorizeSecurityGroupIngress.command(raw({ GroupId: SG, IpPermissions: [SSH] }, '$(id)'))).toBe(
      'no command: the region in the event is not a valid region',
    );
  });
});
