import {
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handler } from '../../../functions/open-security-group/handler.js';
import { openSecurityGroup } from '../../../functions/open-security-group/rule.js';
import { resetProcessConfig } from '../../../shared/config.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const ec2 = mockClient(EC2Client);
const SG = 'sg-0123456789abcdef0';
const GROUP = { SecurityGroups: [{ GroupId: SG, GroupName: 'web', VpcId: 'vpc-0123456789abcdef0' }] };
const MIXED = 'would-remediate.authorize-several-permissions-mixed-allowed-and-not';
const NO_IDS = 'would-remediate.authorize-world-ssh-without-rule-ids';

const awsError = (name: string, status = 400) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
const ingress = (id: string, fields: Partial<SecurityGroupRule>): SecurityGroupRule => ({
  SecurityGroupRuleId: id,
  GroupId: SG,
  GroupOwnerId: '111122223333',
  IsEgress: false,
  ...fields,
});
const tcp = (id: string, port: number, source: Partial<SecurityGroupRule>) => ingress(id, { IpProtocol: 'tcp', FromPort: port, ToPort: port, ...source });

// What the group holds after the mixed call: its five rules, an older world-open rule and the default egress rule.
const MIXED_RULES = [
  tcp('sgr-00000000000001d01', 443, { CidrIpv4: '0.0.0.0/0', Description: 'https' }),
  tcp('sgr-00000000000001d02', 443, { CidrIpv6: '::/0', Description: 'https' }),
  tcp('sgr-00000000000001d03', 22, { CidrIpv4: '0.0.0.0/0', Description: 'ssh' }),
  tcp('sgr-00000000000001d04', 3389, { CidrIpv4: '198.51.100.0/24', Description: 'office rdp' }),
  tcp('sgr-00000000000001d05', 5432, { CidrIpv6: '::/0', Description: 'postgres' }),
  tcp('sgr-0f0f0f0f0f0f0f0f0', 8080, { CidrIpv4: '0.0.0.0/0', Description: 'legacy app' }),
  ingress('sgr-0e0e0e0e0e0e0e0e0', { IsEgress: true, IpProtocol: '-1', FromPort: -1, ToPort: -1, CidrIpv4: '0.0.0.0/0' }),
];
const REVOKED = ['sgr-00000000000001d03', 'sgr-00000000000001d05'];
const without = (ids: readonly string[]) => ({ SecurityGroupRules: MIXED_RULES.filter((r) => !ids.includes(r.SecurityGroupRuleId ?? '')) });

const revokeInputs = () => ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input);

beforeEach(() => {
  ec2.reset();
  ec2.rejects(new Error('unexpected EC2 call')); // unmocked calls fail loudly
});
afterEach(() => ec2.reset());

describe('open-security-group live', () => {
  it('revokes exactly the not-allowed world rules of the event by id, and confirms they are gone', async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves(GROUP);
    ec2.on(DescribeSecurityGroupRulesCommand).resolvesOnce({ SecurityGroupRules: MIXED_RULES }).resolves(without(REVOKED));
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

    const { record, deps } = await runSample(openSecurityGroup, MIXED, { mode: 'live' });

    expect(revokeInputs()).toEqual([{ GroupId: SG, SecurityGroupRuleIds: REVOKED }]);
    expect(ec2).toHaveReceivedCommandWith(DescribeSecurityGroupsCommand, { GroupIds: [SG] });
    expect(ec2).toHaveReceivedCommandWith(DescribeSecurityGroupRulesCommand, { Filters: [{ Name: 'group-id', Values: [SG] }] });
    expect(ec2).toHaveReceivedCommandTimes(DescribeSecurityGroupRulesCommand, 2); // inspect + verify
    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'HIGH',
      reason: expect.stringContaining('1 older world-open ingress rule(s) not from this event left alone: tcp 8080 from 0.0.0.0/0 (sgr-0f0f0f0f0f0f0f0f0)'),
      actions: [
        {
          api: 'EC2.RevokeSecurityGroupIngress',
          status: 'done',
          params: { GroupId: SG, SecurityGroupRuleIds: REVOKED },
          verification: { ok: true, detail: `${REVOKED.join(', ')} read back as gone from ${SG}` },
          previous: {
            SecurityGroupRules: [
              { SecurityGroupRuleId: REVOKED[0], IsEgress: false, IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIpv4: '0.0.0.0/0', Description: 'ssh' },
              { SecurityGroupRuleId: REVOKED[1], IsEgress: false, IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, CidrIpv6: '::/0', Description: 'postgres' },
            ],
          },
        },
      ],
    });
    expect(deps.published[0]?.subject).toBe(`[HIGH] World-open ingress revoked on ${SG} in 111122223333/eu-west-1`);
    expect(deps.published[0]?.text).toContain('Group name: web');
    expect(deps.published[0]?.text).toContain('Rule: tcp 22 from 0.0.0.0/0 (sgr-00000000000001d03), description "ssh"');
    expect(deps.published[0]?.text).toContain('Rule: tcp 5432 from ::/0 (sgr-00000000000001d05), description "postgres"');
    // One command re-creates every revoked rule, from the action type (as report and undo print it), with --region.
    expect(deps.published[0]?.text).toContain(
      `To reverse: aws ec2 authorize-security-group-ingress --region 'eu-west-1' --group-id '${SG}' --ip-permissions '[`
        + `{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0","Description":"ssh"}]},`
        + `{"IpProtocol":"tcp","FromPort":5432,"ToPort":5432,"Ipv6Ranges":[{"CidrIpv6":"::/0","Description":"postgres"}]}]'`,
    );
    expect(deps.published[0]?.text).not.toContain('To re-create it');
  });

  it('finds the rule id by describing the group when the response lists none', async () => {
    const rules = [
      tcp('sgr-0123123123123123a', 22, { CidrIpv4: '203.0.113.0/24' }),
      tcp('sgr-0789789789789789c', 22, { CidrIpv4: '0.0.0.0/0' }),
      ingress('sgr-0e0e0e0e0e0e0e0e0', { IsEgress: true, IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIpv4: '0.0.0.0/0' }),
    ];
    ec2.on(DescribeSecurityGroupsCommand).resolves(GROUP);
    ec2
      .on(DescribeSecurityGroupRulesCommand)
      .resolvesOnce({ SecurityGroupRules: rules })
      .resolves({ SecurityGroupRules: [rules[0]!, rules[2]!] });
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

    const { record } = await runSample(openSecurityGroup, NO_IDS, { mode: 'live' });

    expect(revokeInputs()).toEqual([{ GroupId: SG, SecurityGroupRuleIds: ['sgr-0789789789789789c'] }]);
    expect(record.outcome).toBe('remediated');
  });

  it("reads every page of the group's rules", async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves(GROUP);
    ec2
      .on(DescribeSecurityGroupRulesCommand)
      .resolvesOnce({ SecurityGroupRules: [tcp('sgr-0123123123123123a', 22, { CidrIpv4: '203.0.113.0/24' })], NextToken: 'page-2' })
      .resolvesOnce({ SecurityGroupRules: [tcp('sgr-0789789789789789c', 22, { CidrIpv4: '0.0.0.0/0' })] })
      .resolves({ SecurityGroupRules: [] });
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

    const { record } = await runSample(openSecurityGroup, NO_IDS, { mode: 'live' });

    expect(ec2).toHaveReceivedNthCommandWith(DescribeSecurityGroupRulesCommand, 2, { NextToken: 'page-2', Filters: [{ Name: 'group-id', Values: [SG] }] });
    expect(revokeInputs()).toEqual([{ GroupId: SG, SecurityGroupRuleIds: ['sgr-0789789789789789c'] }]);
    expect(record.outcome).toBe('remediated');
  });

  it('resolves a name-only group to its id before revoking', async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-0fedcba9876543210', GroupName: 'launch-wizard-1' }] });
    ec2
      .on(DescribeSecurityGroupRulesCommand)
      .resolvesOnce({ SecurityGroupRules: [{ ...tcp('sgr-0abcabcabcabcabca', 22, { CidrIpv4: '0.0.0.0/0' }), GroupId: 'sg-0fedcba9876543210' }] })
      .resolves({ SecurityGroupRules: [] });
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

    const { record } = await runSample(openSecurityGroup, 'would-remediate.authorize-group-name-only-default-vpc', { mode: 'live' });

    expect(ec2).toHaveReceivedCommandWith(DescribeSecurityGroupsCommand, { GroupNames: ['launch-wizard-1'] });
    expect(revokeInputs()).toEqual([{ GroupId: 'sg-0fedcba9876543210', SecurityGroupRuleIds: ['sgr-0abcabcabcabcabca'] }]);
    expect(record).toMatchObject({ outcome: 'remediated', resources: [{ id: 'sg-0fedcba9876543210', name: 'launch-wizard-1' }] });
  });

  it('revokes the rule a ModifySecurityGroupRules call opened, and nothing for one that is egress', async () => {
    const modified = tcp('sgr-00000000000002a01', 22, { CidrIpv4: '0.0.0.0/0' });
    ec2.on(DescribeSecurityGroupsCommand).resolves(GROUP);
    ec2
      .on(DescribeSecurityGroupRulesCommand)
      .resolvesOnce({ SecurityGroupRules: [modified] })
      .resolves({ SecurityGroupRules: [] });
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });
    const opened = await runSample(openSecurityGroup, 'would-remediate.modify-security-group-rules-to-world-cidr', { mode: 'live' });
    expect(revokeInputs()).toEqual([{ GroupId: SG, SecurityGroupRuleIds: ['sgr-00000000000002a01'] }]);
    expect(opened.record.outcome).toBe('remediated');

    ec2.resetHistory();
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [{ ...modified, IsEgress: true }] });
    const egress = await runSample(openSecurityGroup, 'would-remediate.modify-security-group-rules-to-world-cidr', { mode: 'live' });
    expect(egress.record.outcome).toBe('compliant');
    expect(ec2).toHaveReceivedCommandTimes(DescribeSecurityGroupRulesCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(RevokeSecurityGroupIngressCommand, 0);
  });

  it('makes no revoke for a compliant event, after reading the group', async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves(GROUP);
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: MIXED_RULES });

    const { record, deps } = await runSample(openSecurityGroup, 'compliant.authorize-https-only-from-world', { mode: 'live' });

    expect(ec2).toHaveReceivedCommandTimes(DescribeSecurityGroupRulesCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(RevokeSecurityGroupIngressCommand, 0);
    expect(record).toMatchObject({ outcome: 'compliant', notification: { status: 'not-needed' } });
    expect(deps.published).toEqual([]);
  });

  it('makes no revoke for a stale event whose rule is already gone', async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves(GROUP);
    ec2.on(DescribeSecurityGroupRulesCommand).resolves(without(REVOKED));

    const { record } = await runSample(openSecurityGroup, MIXED, { mode: 'live' });

    expect(ec2).toHaveReceivedCommandTimes(DescribeSecurityGroupRulesCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(RevokeSecurityGroupIngressCommand, 0);
    expect(record.outcome).toBe('compliant');
  });

  it('treats rules that vanished before the revoke as already gone, not as a failure', async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves(GROUP);
    ec2.on(DescribeSecurityGroupRulesCommand).resolvesOnce({ SecurityGroupRules: MIXED_RULES }).resolves(without(REVOKED));
    ec2.on(RevokeSecurityGroupIngressCommand).rejects(awsError('InvalidSecurityGroupRuleId.NotFound'));

    const { record } = await runSample(openSecurityGroup, MIXED, { mode: 'live' });

    expect(revokeInputs()).toEqual([{ GroupId: SG, SecurityGroupRuleIds: REVOKED }]);
    expect(record).toMatchObject({
      outcome: 'ignored',
      reason: expect.stringContaining('already gone'),
      actions: [{ status: 'done', verification: { ok: true, detail: 'already gone (InvalidSecurityGroupRuleId.NotFound)' } }],
    });
  });

  it('revokes the rules still there when one of them vanished before the revoke', async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves(GROUP);
    ec2
      .on(DescribeSecurityGroupRulesCommand)
      .resolvesOnce({ SecurityGroupRules: MIXED_RULES })
      .resolvesOnce(without([REVOKED[0]!]))
      .resolves(without(REVOKED));
    ec2.on(RevokeSecurityGroupIngressCommand).rejectsOnce(awsError('InvalidSecurityGroupRuleId.NotFound')).resolves({ Return: true });

    const { record } = await runSample(openSecurityGroup, MIXED, { mode: 'live' });

    expect(revokeInputs()).toEqual([
      { GroupId: SG, SecurityGroupRuleIds: REVOKED },
      { GroupId: SG, SecurityGroupRuleIds: [REVOKED[1]] },
    ]);
    expect(record).toMatchObject({ outcome: 'remediated', actions: [{ verification: { ok: true } }] });
  });

  it('ignores an event whose group no longer exists, without a revoke', async () => {
    ec2.on(DescribeSecurityGroupsCommand).rejects(awsError('InvalidGroup.NotFound'));

    const { record } = await runSample(openSecurityGroup, MIXED, { mode: 'live' });

    expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('no longer exists (InvalidGroup.NotFound') });
    expect(ec2).toHaveReceivedCommandTimes(DescribeSecurityGroupsCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(RevokeSecurityGroupIngressCommand, 0);
  });

  it('fails with the IAM action named when the revoke is denied, and alerts', async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves(GROUP);
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: MIXED_RULES });
    ec2.on(RevokeSecurityGroupIngressCommand).rejects(awsError('UnauthorizedOperation', 403));

    const { record, deps } = await runSample(openSecurityGroup, MIXED, { mode: 'live' });

    expect(record).toMatchObject({
      outcome: 'failed',
      actions: [{ status: 'failed', error: 'denied: UnauthorizedOperation' }],
      error: { kind: 'denied', api: 'EC2.RevokeSecurityGroupIngress', permission: 'ec2:RevokeSecurityGroupIngress' },
    });
    expect(deps.published[0]?.subject).toBe(`[HIGH] FAILED to revoke world-open ingress on ${SG} in 111122223333/eu-west-1`);
  });

  it('reports a revoke that did not stick as failed, never remediated', async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves(GROUP);
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: MIXED_RULES });
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

    const { record } = await runSample(openSecurityGroup, MIXED, { mode: 'live' });

    expect(ec2).toHaveReceivedCommandTimes(RevokeSecurityGroupIngressCommand, 1);
    expect(record).toMatchObject({
      outcome: 'failed',
      reason: expect.stringContaining('verification failed'),
      actions: [{ status: 'done', verification: { ok: false, detail: `still on ${SG}: ${REVOKED.join(', ')}` } }],
    });
  });

  it('leaves a group alone whose name matches an exemption learnt from describing it', async () => {
    const config = sampleConfig({ exemptions: [{ rule: 'open-security-group', resource: 'bastion-*', reason: 'reviewed bastions (SEC-3456)' }] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: SG, GroupName: 'bastion-public' }] });
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: MIXED_RULES });

    const { record } = await runSample(openSecurityGroup, MIXED, { mode: 'live', config });

    expect(ec2).toHaveReceivedCommandTimes(DescribeSecurityGroupRulesCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(RevokeSecurityGroupIngressCommand, 0);
    expect(record).toMatchObject({ outcome: 'exempt', exemptions: [{ resource: SG, reason: 'reviewed bastions (SEC-3456)' }] });
  });

  it('runs through the deployed Lambda handler, in live mode by default', async () => {
    resetProcessConfig();
    ec2.on(DescribeSecurityGroupsCommand).resolves(GROUP);
    ec2.on(DescribeSecurityGroupRulesCommand).resolvesOnce({ SecurityGroupRules: MIXED_RULES }).resolves(without(REVOKED));
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

    const record = await handler(loadSample('open-security-group', MIXED), {} as never);

    expect(revokeInputs()).toEqual([{ GroupId: SG, SecurityGroupRuleIds: REVOKED }]);
    expect(record).toMatchObject({ rule: 'open-security-group', mode: 'live', outcome: 'remediated' });
    resetProcessConfig();
  });
});

describe('open-security-group dry-run and offline', () => {
  it('dry-run reads the group and plans the revoke by id, writing nothing', async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves(GROUP);
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [tcp('sgr-0789789789789789c', 22, { CidrIpv4: '0.0.0.0/0' })] });

    const { record, deps } = await runSample(openSecurityGroup, NO_IDS, { mode: 'dry-run' });

    expect(ec2).toHaveReceivedCommandTimes(DescribeSecurityGroupRulesCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(RevokeSecurityGroupIngressCommand, 0);
    expect(record).toMatchObject({
      outcome: 'would-remediate',
      actions: [{ status: 'planned', params: { GroupId: SG, SecurityGroupRuleIds: ['sgr-0789789789789789c'] } }],
    });
    expect(deps.published[0]?.subject).toMatch(/^\[HIGH\] Would revoke world-open ingress on sg-0123456789abcdef0/);
  });

  it('offline makes no AWS call at all', async () => {
    const { record, deps } = await runSample(openSecurityGroup, MIXED, { mode: 'offline' });

    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ status: 'planned', params: { SecurityGroupRuleIds: REVOKED } }] });
    expect(deps.written).toEqual([record]);
    expect(ec2.calls()).toHaveLength(0);
  });
});

describe('open-security-group live: ranges that add up to the world, a response naming another group', () => {
  const HALVES = 'would-remediate.authorize-ssh-from-two-halves-of-ipv4';
  const LOW = tcp('sgr-00000000000005a01', 22, { CidrIpv4: '0.0.0.0/1', Description: 'ssh' });
  const HIGH = tcp('sgr-00000000000005a02', 22, { CidrIpv4: '128.0.0.0/1', Description: 'ssh' });
  const OFFICE = tcp('sgr-0123123123123123a', 22, { CidrIpv4: '203.0.113.0/24' });

  it('revokes both /1 halves by id, keeps the office range nested in them, and confirms', async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves(GROUP);
    ec2
      .on(DescribeSecurityGroupRulesCommand)
      .resolvesOnce({ SecurityGroupRules: [LOW, OFFICE, HIGH] })
      .resolves({ SecurityGroupRules: [OFFICE] });
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

    const { record } = await runSample(openSecurityGroup, HALVES, { mode: 'live' });

    expect(revokeInputs()).toEqual([{ GroupId: SG, SecurityGroupRuleIds: ['sgr-00000000000005a01', 'sgr-00000000000005a02'] }]);
    expect(record).toMatchObject({ outcome: 'remediated', actions: [{ status: 'done', verification: { ok: true } }] });
  });

  it("revokes the rule found by content when the response names another group's rule id", async () => {
    const real = tcp('sgr-0789789789789789c', 22, { CidrIpv4: '0.0.0.0/0' });
    const event = withDetail(loadSample('open-security-group', 'would-remediate.authorize-ipv4-world-ssh-with-rule-ids'), {
      responseElements: {
        _return: true,
        securityGroupRuleSet: {
          items: [
            {
              securityGroupRuleId: 'sgr-0999999999999999f',
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
    });
    ec2.on(DescribeSecurityGroupsCommand).resolves(GROUP);
    ec2
      .on(DescribeSecurityGroupRulesCommand)
      .resolvesOnce({ SecurityGroupRules: [real] })
      .resolves({ SecurityGroupRules: [] });
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });

    const record = await run(openSecurityGroup, event, capturingDeps({ mode: 'live' }));

    expect(ec2).toHaveReceivedCommandWith(DescribeSecurityGroupRulesCommand, { Filters: [{ Name: 'group-id', Values: [SG] }] });
    expect(revokeInputs()).toEqual([{ GroupId: SG, SecurityGroupRuleIds: ['sgr-0789789789789789c'] }]);
    expect(record).toMatchObject({ outcome: 'remediated', reason: expect.stringContaining('not of this group ignored: sgr-0999999999999999f') });
  });
});
