import {
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSecurityGroupSweep } from '../../../functions/open-security-group/sweep.js';
import { runSweep, type SweepRun } from '../../../shared/runner/sweep.js';
import { capturingDeps } from '../../helpers/samples.js';

const ec2 = mockClient(EC2Client);
const SG = 'sg-0123456789abcdef0';
const OTHER = 'sg-0fedcba9876543210';
const RUN: SweepRun = { region: 'eu-west-1', account: '111122223333', window: '2026-11-25T12:00:00.000Z', deadline: Number.POSITIVE_INFINITY };

const ssh = (id: string, cidr: string, groupId = SG): SecurityGroupRule => ({
  SecurityGroupRuleId: id,
  GroupId: groupId,
  IsEgress: false,
  IpProtocol: 'tcp',
  FromPort: 22,
  ToPort: 22,
  CidrIpv4: cidr,
});
const LOW = ssh('sgr-00000000000000011', '12.0.0.0/8');
const HIGH = ssh('sgr-00000000000000012', '13.0.0.0/8');
const OFFICE = ssh('sgr-00000000000000013', '203.0.113.0/24');

const revokeInputs = () => ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input);
/** The region listing (no filter) in two pages; the group's own listing (by group-id filter) first as-is, then after the revoke. */
function listing(pages: SecurityGroupRule[][], group: { now: SecurityGroupRule[]; after: SecurityGroupRule[] }) {
  ec2
    .on(DescribeSecurityGroupRulesCommand, { Filters: undefined, NextToken: undefined })
    .resolves({ SecurityGroupRules: pages[0], ...(pages[1] ? { NextToken: 'page-2' } : {}) });
  ec2.on(DescribeSecurityGroupRulesCommand, { NextToken: 'page-2' }).resolves({ SecurityGroupRules: pages[1] });
  ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: SG, GroupName: 'web' }] });
  ec2
    .on(DescribeSecurityGroupRulesCommand, { Filters: [{ Name: 'group-id', Values: [SG] }] })
    .resolvesOnce({ SecurityGroupRules: group.now })
    .resolves({ SecurityGroupRules: group.after });
  ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });
}

beforeEach(() => {
  ec2.reset();
  ec2.rejects(new Error('unexpected EC2 call')); // unmocked calls fail loudly
});
afterEach(() => ec2.reset());

describe('open-security-group sweep: world-open sets of ranges', () => {
  it('revokes two /8s of one group that together make a /7, even listed on two pages', async () => {
    listing([[LOW, OFFICE], [HIGH]], { now: [LOW, OFFICE, HIGH], after: [OFFICE] });
    const deps = capturingDeps({ mode: 'live' });

    const summary = await runSweep(openSecurityGroupSweep, deps, RUN);

    expect(revokeInputs()).toEqual([{ GroupId: SG, SecurityGroupRuleIds: ['sgr-00000000000000011', 'sgr-00000000000000012'] }]);
    expect(deps.written).toEqual([expect.objectContaining({ trigger: 'sweep', outcome: 'remediated', resources: [expect.objectContaining({ id: SG })] })]);
    expect(summary).toMatchObject({ scanned: 3, findings: 1, complete: true });
  });

  it('never adds up ranges of two different groups', async () => {
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [LOW, { ...HIGH, GroupId: OTHER }, OFFICE] });
    const deps = capturingDeps({ mode: 'live' });

    const summary = await runSweep(openSecurityGroupSweep, deps, RUN);

    expect(ec2).toHaveReceivedCommandTimes(DescribeSecurityGroupRulesCommand, 1);
    expect(ec2).not.toHaveReceivedCommand(RevokeSecurityGroupIngressCommand);
    expect(summary).toMatchObject({ scanned: 3, findings: 0, complete: true });
  });

  it('revokes a /4 and leaves a /8 of the same group alone', async () => {
    const wide = ssh('sgr-00000000000000014', '64.0.0.0/4');
    const partner = ssh('sgr-00000000000000015', '11.0.0.0/8');
    listing([[wide, partner]], { now: [wide, partner], after: [partner] });
    const deps = capturingDeps({ mode: 'dry-run' });

    const summary = await runSweep(openSecurityGroupSweep, deps, RUN);

    expect(ec2).not.toHaveReceivedCommand(RevokeSecurityGroupIngressCommand);
    expect(deps.written).toEqual([
      expect.objectContaining({
        outcome: 'would-remediate',
        actions: [expect.objectContaining({ params: { GroupId: SG, SecurityGroupRuleIds: ['sgr-00000000000000014'] } })],
      }),
    ]);
    expect(summary).toMatchObject({ findings: 1 });
  });
});
