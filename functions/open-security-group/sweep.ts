import { paginateDescribeSecurityGroupRules, type EC2Client } from '@aws-sdk/client-ec2';
import { ec2Client } from '../../shared/aws/ec2.js';
import { worldOpenRules } from '../../shared/ec2/world-open-set.js';
import { fromSdkRule, type CidrRule, type WorldOpenPolicy } from '../../shared/ec2/world-open.js';
import { classifiedPages, type Sweep, type SweepScope, type SweepStep } from '../../shared/runner/sweep.js';
import { openSecurityGroup, type GroupFacts } from './rule.js';

// DescribeSecurityGroupRules returns at most 1,000 rules per page.
const PAGE_SIZE = 1000;

type Clients = { readonly ec2: EC2Client };

/** The facts of a group holding world-open rules that configuration does not allow: exactly those rule ids. */
export function groupFacts(groupId: string, rules: readonly CidrRule[]): GroupFacts {
  return { groupId, groupName: undefined, rules, foreignRuleIds: [], modified: false, resources: [{ type: 'AWS::EC2::SecurityGroup', id: groupId }] };
}

/**
 * Candidates: every ingress rule of the region, paged, gathered per group; a group is a finding when some of
 * its CIDR-sourced rules are world-open on ports configuration does not allow, by themselves or as a set for
 * the same traffic (`0.0.0.0/1` + `128.0.0.0/1`), naming exactly those rule ids, so the rule revokes those and
 * nothing else (it re-reads the group first). Prefix-list and group sources are never candidates. A group's
 * rules can span two pages, so groups are judged once the listing is complete.
 */
async function* scan({ ec2 }: Clients, settings: WorldOpenPolicy, scope: SweepScope): AsyncGenerator<SweepStep<GroupFacts>> {
  const byGroup = new Map<string, CidrRule[]>();
  const pages = paginateDescribeSecurityGroupRules({ client: ec2, pageSize: PAGE_SIZE }, { MaxResults: PAGE_SIZE });
  for await (const page of classifiedPages('EC2.DescribeSecurityGroupRules', scope.region, pages)) {
    const rules = page.SecurityGroupRules ?? [];
    for (const sdkRule of rules) {
      const rule = fromSdkRule(sdkRule);
      if (!rule?.ruleId || !sdkRule.GroupId) continue;
      const known = byGroup.get(sdkRule.GroupId);
      if (known) known.push(rule);
      else byGroup.set(sdkRule.GroupId, [rule]);
    }
    yield { kind: 'page', scanned: rules.length, next: page.NextToken ? `DescribeSecurityGroupRules page token ${page.NextToken}` : 'the groups found' };
  }
  for (const [groupId, rules] of byGroup) {
    const open = worldOpenRules(rules, settings);
    if (open.length > 0) yield { kind: 'finding', resource: groupId, facts: groupFacts(groupId, open) };
  }
}

/** The open-security-group sweep: groups with world-open ingress on ports configuration does not allow. */
export const openSecurityGroupSweep = {
  rule: openSecurityGroup,
  permissions: {},
  clients: (options) => ({ ec2: ec2Client({ ...options, readOnly: true }) }),
  scan,
} satisfies Sweep<typeof openSecurityGroup, GroupFacts, Clients>;
