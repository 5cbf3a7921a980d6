import { beforeAll, describe, expect, it } from 'vitest';
import { CHECKS, RULES } from '../../functions/rules.js';
import { actingFunctions, memberActionsOf, memberStackTemplate } from '../../scripts/member-stack.js';
import {
  admitsOnlyAwsSources,
  logicalPrefixOf,
  packageOnce,
  resourcesOfType,
  s3ResourceStatements,
  type CfnResource,
  type Packaged,
} from '../helpers/template.js';

const ORGANIZATION_ID = 'o-exampleorg1';
const ASSUME_MEMBER_ROLE = {
  Effect: 'Allow',
  Action: ['sts:AssumeRole'],
  Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::*:role/trailguard-remediation' },
  Condition: { StringEquals: { 'aws:ResourceOrgID': ORGANIZATION_ID } },
};

const byJson = (a: unknown, b: unknown) => JSON.stringify(a).localeCompare(JSON.stringify(b));
const policyStatements = (role: CfnResource | undefined): any[] =>
  ((role?.Properties?.Policies ?? []) as { PolicyDocument: { Statement: any[] } }[]).flatMap((p) => p.PolicyDocument.Statement);
const rolesAssuming = (template: Packaged['template']) =>
  resourcesOfType(template, 'AWS::IAM::Role')
    .filter(([, role]) => policyStatements(role).some((s) => [s.Action].flat().includes('sts:AssumeRole')))
    .map(([id]) => id);

/**
 * The function roles that act in an event's account, read from a template alone: a role of a function that no
 * schedule of the stack invokes (not a sweep) with a statement on resources that are not the stack's own (a
 * Ref/GetAtt, or an ARN in the stack's Region: its logs, its schedules).
 */
function actingByTemplate(template: Packaged['template']): string[] {
  const swept = resourcesOfType(template, 'AWS::Scheduler::Schedule').map(([, r]) => JSON.stringify(r.Properties?.Target?.Arn));
  const own = (resource: unknown) => [resource].flat().every((r) => /"Ref"|"Fn::GetAtt"|\$\{AWS::Region\}/.test(JSON.stringify(r)));
  return resourcesOfType(template, 'AWS::Lambda::Function')
    .filter(([id]) => !swept.includes(JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] })))
    .map(([id]) => id.replace(/LambdaFunction$/, 'IamRoleLambdaExecution'))
    .filter((roleId) => policyStatements(template.Resources[roleId]).some((statement) => !own(statement.Resource)))
    .sort();
}

// Rules in state ENABLED never receive read-only management events (Get/List/Describe): root's reads need this state,
// and so do the stolen-credential signals (issue 20), whose subject is reads (and denied calls, reads among them).
const ALL_MANAGEMENT_EVENTS = 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS';
const READS_TOO: ReadonlySet<string> = new Set([
  'root-activity',
  'secrets-bulk-read',
  'parameters-bulk-decrypt',
  'iam-enumerated-by-instance',
  'instance-credentials-outside',
  'denied-calls-burst',
  'instance-user-data-read',
  'ses-enumeration',
  'bedrock-first-use',
]);
const expectedState = (ruleId: string) => (READS_TOO.has(ruleId) ? ALL_MANAGEMENT_EVENTS : 'ENABLED');
const eventRulesOf = (template: Packaged['template'], ruleId: string) =>
  resourcesOfType(template, 'AWS::Events::Rule').filter(
    ([, r]) =>
      JSON.stringify(r.Properties?.Targets?.[0]?.Arn) === JSON.stringify({ 'Fn::GetAtt': [`${logicalPrefixOf(ruleId)}LambdaFunction`, 'Arn'] })
      && r.Properties?.EventPattern,
  );

let single: Packaged;
let org: Packaged;
beforeAll(() => {
  single = packageOnce();
  org = packageOnce({ organizationId: ORGANIZATION_ID });
});

describe('the central stack in single-account mode (the default)', () => {
  it('has no organisation bus, no copy of the rules on it, and no role that may assume another', () => {
    expect(resourcesOfType(single.template, 'AWS::Events::EventBus')).toEqual([]);
    expect(resourcesOfType(single.template, 'AWS::Events::EventBusPolicy')).toEqual([]);
    expect(resourcesOfType(single.template, 'AWS::Events::Rule').filter(([, r]) => r.Properties?.EventBusName)).toEqual([]);
    expect(rolesAssuming(single.template)).toEqual([]);
    for (const rule of RULES) {
      const variables = single.template.Resources[`${logicalPrefixOf(rule.id)}LambdaFunction`]?.Properties?.Environment?.Variables;
      expect(variables?.TRAILGUARD_RULE, rule.id).toBe(rule.id);
      expect(
        Object.keys(variables ?? {}).filter((name) => /ORG_ID|MEMBER_ROLE|CENTRAL_ACCOUNT|EXTERNAL_ID/.test(name)),
        rule.id,
      ).toEqual([]);
    }
  });
});

describe('rule states, in single-account mode too', () => {
  it.each(RULES.map((rule) => [rule.id] as const))('%s: its default-bus rule has the state its events need', (ruleId) => {
    const rules = eventRulesOf(single.template, ruleId);
    expect(rules).toHaveLength(1);
    expect(rules[0]?.[1].Properties?.State).toBe(expectedState(ruleId));
  });

  it("receives root's read-only calls: the root-activity rule is ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS, on both buses", () => {
    const states = (template: Packaged['template']) => eventRulesOf(template, 'root-activity').map(([, r]) => r.Properties?.State);
    expect(states(single.template)).toEqual([ALL_MANAGEMENT_EVENTS]);
    expect(states(org.template)).toEqual([ALL_MANAGEMENT_EVENTS, ALL_MANAGEMENT_EVENTS]);
  });
});

describe('the central stack in organisation mode (--param organizationId=o-…)', () => {
  it("has a bus that accepts PutEvents only from the member stacks' forwarding roles, in accounts of the organisation", () => {
    expect(org.template.Resources.OrganizationEventBus).toEqual({ Type: 'AWS::Events::EventBus', Properties: { Name: 'trailguard-test-organization' } });
    expect(org.template.Resources.OrganizationEventBusPolicy?.Properties).toEqual({
      EventBusName: { Ref: 'OrganizationEventBus' },
      StatementId: 'OrganizationForwardersPutEvents',
      Statement: {
        Effect: 'Allow',
        Principal: '*',
        Action: 'events:PutEvents',
        Resource: { 'Fn::GetAtt': ['OrganizationEventBus', 'Arn'] },
        Condition: {
          StringEquals: { 'aws:PrincipalOrgID': ORGANIZATION_ID },
          ArnLike: { 'aws:PrincipalArn': { 'Fn::Sub': 'arn:${AWS::Partition}:iam::*:role/trailguard-test-forwarder/*' } },
        },
      },
    });
  });

  it('admits the role the member stack forwards with, and no other principal of the organisation', () => {
    const pattern = org.template.Resources.OrganizationEventBusPolicy?.Properties?.Statement?.Condition?.ArnLike?.['aws:PrincipalArn']?.['Fn::Sub'] as string;
    // ArnLike: `*` spans any characters; the partition as CloudFormation substitutes it.
    const glob = new RegExp(
      `^${pattern
        .replace('${AWS::Partition}', 'aws')
        .split('*')
        .map((part) => part.replace(/[.?+^$()[\]{}|\\/]/g, '\\$&'))
        .join('.*')}$`,
    );
    const forwarding = (memberStackTemplate().Resources as Record<string, CfnResource>).ForwardingRole?.Properties;
    const path = String(forwarding?.Path?.['Fn::Sub']).replace('${Stage}', 'test');
    const forwarderArn = `arn:aws:iam::444455556666:role${path}StackSet-trailguard-member-ForwardingRole-1A2B3C4D5E6F`;

    expect(path).toBe('/trailguard-test-forwarder/');
    expect(glob.test(forwarderArn)).toBe(true);
    for (const other of [
      'arn:aws:iam::444455556666:role/Admin',
      'arn:aws:iam::444455556666:role/trailguard-test-forwarder-lookalike',
      'arn:aws:iam::444455556666:user/trailguard-test-forwarder/mallory',
      'arn:aws:iam::444455556666:role/trailguard-prod-forwarder/StackSet-x',
    ]) {
      expect(glob.test(other), other).toBe(false);
    }
  });

  describe.each(RULES.map((rule) => [rule.id, rule] as const))('%s', (ruleId, rule) => {
    const target = { 'Fn::GetAtt': [`${logicalPrefixOf(ruleId)}LambdaFunction`, 'Arn'] };
    const rulesTo = (bus: 'default' | 'organization') =>
      resourcesOfType(org.template, 'AWS::Events::Rule')
        .filter(([, r]) => JSON.stringify(r.Properties?.Targets?.[0]?.Arn) === JSON.stringify(target) && r.Properties?.EventPattern)
        .filter(([, r]) => (bus === 'organization') === (r.Properties?.EventBusName !== undefined));

    it('triggers on its pattern on the default bus and on the organisation bus, with the same retries and dead-letter queue', () => {
      const [onDefault] = rulesTo('default');
      const onOrganization = rulesTo('organization');
      expect(onOrganization).toHaveLength(1);
      const [id, copy] = onOrganization[0] ?? [];
      expect(copy?.Properties?.EventBusName).toEqual({ Ref: 'OrganizationEventBus' });
      expect(copy?.Properties?.EventPattern).toEqual(rule.pattern);
      expect(copy?.Properties?.Targets).toEqual(onDefault?.[1].Properties?.Targets);
      expect([onDefault?.[1].Properties?.State, copy?.Properties?.State]).toEqual([expectedState(ruleId), expectedState(ruleId)]);
      const permission = resourcesOfType(org.template, 'AWS::Lambda::Permission').find(
        ([, p]) => JSON.stringify(p.Properties?.SourceArn) === JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] }),
      );
      expect(permission?.[1].Properties).toMatchObject({ FunctionName: target, Principal: 'events.amazonaws.com', Action: 'lambda:InvokeFunction' });
    });

    it("tells the function the organisation, with this stack's account as the central one", () => {
      const variables = org.template.Resources[`${logicalPrefixOf(ruleId)}LambdaFunction`]?.Properties?.Environment?.Variables;
      expect(variables).toMatchObject({
        TRAILGUARD_ORG_ID: ORGANIZATION_ID,
        TRAILGUARD_MEMBER_ROLE_NAME: 'trailguard-remediation',
        TRAILGUARD_CENTRAL_ACCOUNT_ID: { Ref: 'AWS::AccountId' },
      });
      expect(variables?.TRAILGUARD_EXTERNAL_ID).toBeUndefined();
    });
  });

  it('lets exactly the acting functions assume the member role, only by name and only inside the organisation', () => {
    const acting = actingFunctions().map(({ key }) => `${logicalPrefixOf(key)}IamRoleLambdaExecution`);
    expect(rolesAssuming(org.template).sort()).toEqual([...acting].sort());
    // The same roles as the single-account template says act in an event's account (derived without the code).
    expect([...acting].sort()).toEqual(actingByTemplate(single.template));
    expect(acting.length).toBeGreaterThan(0);
    for (const id of acting) {
      const assume = policyStatements(org.template.Resources[id]).filter((s) => [s.Action].flat().includes('sts:AssumeRole'));
      expect(assume, id).toEqual([ASSUME_MEMBER_ROLE]);
    }
    // The sweeps scan the central account only: they never leave it.
    expect(rolesAssuming(org.template).filter((id) => id.includes('Sweep'))).toEqual([]);
  });

  it('changes nothing else in the roles: every other statement is the single-account one', () => {
    for (const [id, role] of resourcesOfType(org.template, 'AWS::IAM::Role')) {
      const others = policyStatements(role).filter((s) => !(JSON.stringify(s) === JSON.stringify(ASSUME_MEMBER_ROLE)));
      expect(others, id).toEqual(policyStatements(single.template.Resources[id]));
    }
  });

  // The 150 KB budget is the bench's target (bench/run.ts reports it); 250 KB is the hard limit. The bundles past the
  // budget are named here, so one more is a decision: every bundle carries every write's self signature (the loop
  // guard), and these hold a second SDK client or the policy readers (docs/performance.md, "Bundle size").
  const OVER_BUDGET: readonly string[] = ['outsideBucketPolicy', 'publicBucket', 'trailBucketLifecycle'];

  it('keeps every function under the 250 KB hard limit (zipped), STS client included, and only the named ones past the 150 KB budget', () => {
    for (const [name, size] of Object.entries(org.zips)) expect(size, name).toBeLessThan(250 * 1024);
    const over = Object.entries(org.zips).filter(([, size]) => size >= 150 * 1024);
    expect(over.map(([name]) => name).sort(), JSON.stringify(over)).toEqual([...OVER_BUDGET].sort());
  });
});

describe('what every template deploys', () => {
  const templates = () =>
    [
      ['single-account', single.template.Resources],
      ['organisation', org.template.Resources],
      ['member', memberStackTemplate().Resources as Record<string, CfnResource>],
    ] as const;

  it.each(['single-account', 'organisation', 'member'])('%s: every EventBridge rule with a pattern admits aws.* sources only', (name) => {
    const resources = templates().find(([n]) => n === name)?.[1] ?? {};
    const patterns = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Events::Rule' && r.Properties?.EventPattern);
    expect(patterns).toHaveLength(name === 'organisation' ? RULES.length * 2 : RULES.length);
    for (const [id, rule] of patterns) expect(admitsOnlyAwsSources(rule.Properties?.EventPattern), id).toBe(true);
  });

  it.each(['single-account', 'organisation', 'member'])("%s: every S3 statement on buckets is limited to the account's own (s3:ResourceAccount)", (name) => {
    const resources = templates().find(([n]) => n === name)?.[1] ?? {};
    const statements = s3ResourceStatements(resources);
    // public-bucket and its sweep centrally; in the member stack, the remediation role.
    expect(statements.length).toBeGreaterThanOrEqual(name === 'member' ? 1 : 2);
    for (const [id, statement] of statements) {
      expect(statement.Condition?.StringEquals?.['s3:ResourceAccount'], id).toEqual({ Ref: 'AWS::AccountId' });
    }
  });
});

describe('the member stack (npm run member-template)', () => {
  const member = memberStackTemplate();
  const resources = member.Resources as Record<string, CfnResource>;
  const role = resources.RemediationRole;
  const statements = (role!.Properties!.Policies as { PolicyDocument: { Statement: any[] } }[]).flatMap((p) => p.PolicyDocument.Statement);
  const memberActions = new Set([...RULES, ...CHECKS.map((check) => check.rule)].flatMap(memberActionsOf));

  it("forwards each rule's pattern, unchanged, to the central organisation bus through its own role", () => {
    const forwards = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Events::Rule');
    expect(forwards.map(([, r]) => r.Properties?.EventPattern)).toEqual(RULES.map((rule) => rule.pattern));
    for (const [, forward] of forwards) {
      expect(forward.Condition).toBe('Forwards');
      expect(forward.Properties?.Targets).toEqual([
        {
          Id: 'trailguard-central-bus',
          Arn: { 'Fn::Sub': 'arn:${AWS::Partition}:events:${CentralRegion}:${CentralAccountId}:event-bus/trailguard-${Stage}-organization' },
          RoleArn: { 'Fn::GetAtt': ['ForwardingRole', 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 3600 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['ForwardingDeadLetterQueue', 'Arn'] } },
        },
      ]);
    }
    expect(forwards.map(([, r]) => r.Properties?.State)).toEqual(RULES.map((rule) => expectedState(rule.id)));
    expect(resources.ForwardRootActivity?.Properties?.State).toBe(ALL_MANAGEMENT_EVENTS);
    const forwarding = resources.ForwardingRole?.Properties;
    expect(forwarding?.AssumeRolePolicyDocument?.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      },
    ]);
    expect(forwarding?.Policies?.[0]?.PolicyDocument?.Statement).toEqual([
      { Effect: 'Allow', Action: 'events:PutEvents', Resource: forwards[0]?.[1].Properties?.Targets[0].Arn },
    ]);
  });

  it("retries a forward as the central bus's copies retry, then keeps it in a queue only the forwarding rules may fill", () => {
    const forwards = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Events::Rule');
    const central = resourcesOfType(org.template, 'AWS::Events::Rule').filter(([, r]) => r.Properties?.EventBusName);
    expect(central.map(([, r]) => r.Properties?.Targets?.[0]?.RetryPolicy)).toEqual(forwards.map(([, r]) => r.Properties?.Targets?.[0]?.RetryPolicy));
    const queue = resources.ForwardingDeadLetterQueue;
    expect(queue).toMatchObject({
      Type: 'AWS::SQS::Queue',
      Condition: 'Forwards',
      Properties: { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true },
    });
    const policy = resources.ForwardingDeadLetterQueuePolicy;
    expect(policy?.Condition).toBe('Forwards');
    expect(policy?.Properties?.Queues).toEqual([{ Ref: 'ForwardingDeadLetterQueue' }]);
    expect(policy?.Properties?.PolicyDocument?.Statement).toEqual([
      {
        Sid: 'ForwardingRulesDeliverFailedEvents',
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': ['ForwardingDeadLetterQueue', 'Arn'] },
        Condition: { ArnEquals: { 'aws:SourceArn': forwards.map(([id]) => ({ 'Fn::GetAtt': [id, 'Arn'] })) } },
      },
    ]);
    expect(forwards).toHaveLength(RULES.length);
  });

  it("does not forward in the central account's own region, whose default bus has the rules already", () => {
    expect(member.Conditions.Forwards).toEqual({
      'Fn::Not': [{ 'Fn::And': [{ Condition: 'IsCentralAccount' }, { 'Fn::Equals': [{ Ref: 'AWS::Region' }, { Ref: 'CentralRegion' }] }] }],
    });
  });

  it("gives the remediation role exactly the rules' actions in the event's account, and no wildcard action", () => {
    const actions = statements.filter((s) => s.Effect === 'Allow').flatMap((s) => [s.Action].flat());
    expect(new Set(actions)).toEqual(memberActions);
    expect(actions).toHaveLength(memberActions.size);
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
    // Scheduling stays in the central account, beside the enforcement function; the stop check acts in the member's.
    expect(actions.filter((a) => a.startsWith('scheduler:'))).toEqual([]);
    // IAM only as the rules on the member's own roles and users need it (a trust policy read and rewritten), never
    // to create or pass a role: nothing that lets the member role widen its own rights.
    expect(actions.filter((a) => /^iam:(Create|Pass|Attach|Put)/.test(a))).toEqual([]);
    expect(actions).toContain('ec2:StopInstances');
    // The one Deny, carried from the central role: the member role may remove a snapshot's share, never add one.
    expect(statements.filter((s) => s.Effect !== 'Allow')).toEqual(
      ['ec2:Add/userId', 'ec2:Add/group'].map((key) => ({
        Effect: 'Deny',
        Action: ['ec2:ModifySnapshotAttribute'],
        Resource: '*',
        Condition: { Null: { [key]: 'false' } },
      })),
    );
  });

  it("scopes every write to the member account's own resources, as the central roles do", () => {
    // Reads that IAM cannot scope to a resource (the service authorization reference lists none for them), and the
    // serial console switch: an account setting of the Region, with no resource at all (the member account's own).
    const unscopable = /^(ec2:Describe\w+|cloudtrail:DescribeTrails|ec2:GetSerialConsoleAccessStatus|ec2:DisableSerialConsoleAccess)$/;
    for (const statement of statements.filter((s) => s.Effect === 'Allow')) {
      const resources = [statement.Resource].flat();
      if (resources.includes('*')) {
        expect([statement.Action].flat().filter((a: string) => !unscopable.test(a))).toEqual([]);
      } else {
        // EC2 snapshot and image ARNs have no account field: `ec2:Owner` pins them to the member account.
        const ownedHere = JSON.stringify(statement.Condition?.StringEquals?.['ec2:Owner']) === '{"Ref":"AWS::AccountId"}';
        for (const resource of resources) {
          const text = JSON.stringify(resource);
          expect(
            text.includes('${AWS::AccountId}')
              || text === '{"Fn::Sub":"arn:${AWS::Partition}:s3:::*"}'
              || (ownedHere && /^\{"Fn::Sub":"arn:\$\{AWS::Partition\}:ec2:\*::(snapshot|image)\/\*"\}$/.test(text)),
            text,
          ).toBe(true);
        }
      }
    }
  });

  it("is assumable only by the central functions' roles, from inside the organisation", () => {
    const trust = role?.Properties?.AssumeRolePolicyDocument?.Statement as any[];
    expect(trust).toHaveLength(1);
    expect(trust[0]).toMatchObject({
      Effect: 'Allow',
      Action: 'sts:AssumeRole',
      Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${CentralAccountId}:root' } },
    });
    const keys = actingByTemplate(single.template)
      .map((roleId) => roleId.replace(/IamRoleLambdaExecution$/, ''))
      .map((prefix) => prefix.charAt(0).toLowerCase() + prefix.slice(1));
    expect(keys.length).toBeGreaterThan(0);
    expect([...trust[0].Condition.ArnEquals['aws:PrincipalArn']].sort(byJson)).toEqual(
      keys.map((key) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:iam::\${CentralAccountId}:role/trailguard-\${Stage}-${key}-role` })).sort(byJson),
    );
    expect(trust[0].Condition.StringEquals).toEqual({
      'aws:PrincipalOrgID': { Ref: 'OrganizationId' },
      'sts:ExternalId': { 'Fn::If': ['HasExternalId', { Ref: 'ExternalId' }, { Ref: 'AWS::NoValue' }] },
    });
    expect(role?.Properties?.RoleName).toEqual({ Ref: 'MemberRoleName' });
  });

  it('creates the (global) role in one region only, and never in the central account', () => {
    expect(role?.Condition).toBe('CreatesRole');
    expect(member.Conditions.CreatesRole).toEqual({
      'Fn::And': [{ 'Fn::Equals': [{ Ref: 'AWS::Region' }, { Ref: 'RoleRegion' }] }, { 'Fn::Not': [{ Condition: 'IsCentralAccount' }] }],
    });
    expect(member.Parameters.RoleRegion.Default).toBe('us-east-1');
  });

  it('trusts exactly the roles the central stack lets assume it', () => {
    const trusted = (role!.Properties!.AssumeRolePolicyDocument.Statement[0].Condition.ArnEquals['aws:PrincipalArn'] as { 'Fn::Sub': string }[]).map(
      (arn) => `${logicalPrefixOf(/-([A-Za-z0-9]+)-role$/.exec(arn['Fn::Sub'])?.[1] ?? '')}IamRoleLambdaExecution`,
    );
    expect(trusted.sort()).toEqual(rolesAssuming(org.template).sort());
  });
});
