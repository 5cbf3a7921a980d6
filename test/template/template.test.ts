import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHECKS, RULES } from '../../functions/rules.js';
import { SWEEPS } from '../../functions/sweeps.js';
import { ALERT_RULE_IDS } from '../../shared/config.js';
import { centralFunctions, codeOf } from '../../scripts/member-stack.js';
import { functionKeyOf, logicalPrefixOf, packageOnce, resourcesOfType, type Packaged } from '../helpers/template.js';

// What every function role holds besides its rule's own permissions: its logs, the alert topic
// (and its KMS key), the dead-letter queue for async failures, and the state table (idempotency,
// circuit breaker, digests).
const BASE_ACTIONS = [
  'logs:CreateLogGroup',
  'logs:CreateLogStream',
  'logs:PutLogEvents',
  'sns:Publish',
  'kms:GenerateDataKey',
  'kms:Decrypt',
  'sqs:SendMessage',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
];

// What every function role holds to read the live configuration (scripts/live-config.cjs), on its own rule's
// parameters only: proven resource by resource below.
const LIVE_CONFIG_ACTIONS = ['ssm:GetParameters', 'ssm:GetParametersByPath'];

// Role actions that are no API call of their own, each needed by a call that is: CreateSchedule makes the caller
// pass the schedule's role.
const IMPLIED_ACTIONS: Readonly<Record<string, readonly string[]>> = { 'scheduler:CreateSchedule': ['iam:PassRole'] };
const withImplied = (actions: readonly string[]) => [...actions, ...actions.flatMap((action) => IMPLIED_ACTIONS[action] ?? [])];

// The function files (scripts/rule-files.cjs, which serverless.yml deploys from), and the code each runs.
const FUNCTIONS = centralFunctions();
const { jobsOf } = createRequire(import.meta.url)('../../scripts/rule-files.cjs') as { jobsOf: () => { key: string }[] };
const JOBS = jobsOf();
const functionOf = (kind: 'event' | 'sweep' | 'check', ruleId: string) => FUNCTIONS.filter((fn) => fn.kind === kind && fn.rule === ruleId);

// Functions that are no rule's EventBridge target: the scheduled checks (CHECKS), each with the exact actions of its
// role besides the base set, which are its code's permissions.
const CHECK_FUNCTIONS = CHECKS.map((check) => {
  const [fn] = functionOf('check', check.rule.id);
  return { key: fn?.key ?? `(no check function of ${check.rule.id})`, actions: withImplied(Object.values(check.rule.permissions)) };
});

// Each rule's reconciliation sweep, on a schedule: the exact actions of its role besides the base set, which
// are its rule's permissions plus the list calls the scan adds (untagged-instance's without Scheduler and
// PassRole: a sweep never schedules a stop).
const SWEEP_FUNCTIONS = SWEEPS.map((sweep) => ({
  key: `${functionKeyOf(sweep.rule.id)}Sweep`,
  sweep,
  actions: withImplied([...Object.values(sweep.rule.permissions), ...Object.values(sweep.permissions)]),
}));

// A rule's EventBridge rule, not its sweep's schedule (whose logical id also starts with the rule's key).
/** The only Deny a function role holds: no share may be added to a snapshot (the sharing rule's function.yml). */
const ADD_DENIES = ['ec2:Add/userId', 'ec2:Add/group'].map((key) => ({
  Effect: 'Deny',
  Action: ['ec2:ModifySnapshotAttribute'],
  Resource: '*',
  Condition: { Null: { [key]: 'false' } },
}));
const isAddDeny = (statement: unknown) => ADD_DENIES.some((deny) => JSON.stringify(deny) === JSON.stringify(statement));

const isRuleOf = (id: string, ruleId: string) =>
  id.toLowerCase().includes(functionKeyOf(ruleId).toLowerCase()) && !id.toLowerCase().includes(`${functionKeyOf(ruleId)}sweep`.toLowerCase());

let packaged: Packaged;
beforeAll(() => {
  packaged = packageOnce();
});

function roleStatements(ruleId: string): { Effect: string; Action: string[]; Resource: unknown }[] {
  const role = packaged.template.Resources[`${logicalPrefixOf(ruleId)}IamRoleLambdaExecution`];
  expect(role, `role of ${ruleId}`).toBeDefined();
  return (role!.Properties!.Policies as { PolicyDocument: { Statement: any[] } }[]).flatMap((p) => p.PolicyDocument.Statement);
}

describe('the packaged CloudFormation template', () => {
  it('has one function per rule, per sweep and per scheduled check of the registries, and no other', () => {
    const functions = resourcesOfType(packaged.template, 'AWS::Lambda::Function')
      .map(([id]) => id)
      .sort();
    // And the stack jobs (jobs/<job>/function.yml: no rule's, such as the weekly exemption notice).
    const extra = [...CHECK_FUNCTIONS, ...SWEEP_FUNCTIONS, ...JOBS].map((f) => f.key);
    expect(functions).toEqual([...RULES.map((rule) => rule.id), ...extra].map((id) => `${logicalPrefixOf(id)}LambdaFunction`).sort());
    // Each function file's function is one of them, running the code of its registry entry (codeOf throws otherwise).
    for (const rule of RULES)
      expect(
        functionOf('event', rule.id).map((fn) => fn.key),
        rule.id,
      ).toEqual([functionKeyOf(rule.id)]);
    for (const { key, sweep } of SWEEP_FUNCTIONS)
      expect(
        functionOf('sweep', sweep.rule.id).map((fn) => fn.key),
        key,
      ).toEqual([key]);
    for (const check of CHECKS) expect(functionOf('check', check.rule.id), check.rule.id).toHaveLength(1);
    for (const fn of FUNCTIONS) expect(codeOf(fn).id, fn.key).toBe(fn.rule);
    expect(FUNCTIONS.length + JOBS.length).toBe(functions.length);
  });

  describe.each(RULES.map((rule) => [rule.id, rule] as const))('%s', (ruleId, rule) => {
    it('triggers on exactly the pattern the code matches', () => {
      const rules = resourcesOfType(packaged.template, 'AWS::Events::Rule').filter(([id]) => isRuleOf(id, ruleId));
      expect(rules).toHaveLength(1);
      expect(rules[0]?.[1].Properties?.EventPattern).toEqual(rule.pattern);
    });

    it('sends failed deliveries to the dead-letter queue, with a retry policy', () => {
      const [, eventRule] = resourcesOfType(packaged.template, 'AWS::Events::Rule').find(([id]) => isRuleOf(id, ruleId)) ?? [];
      const target = eventRule?.Properties?.Targets?.[0];
      expect(target?.DeadLetterConfig?.Arn).toEqual({ 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] });
      expect(target?.RetryPolicy).toEqual({ MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 3600 });
      const invokeConfig = packaged.template.Resources[`${logicalPrefixOf(ruleId)}LambdaEvConf`];
      expect(invokeConfig?.Properties?.DestinationConfig?.OnFailure?.Destination).toEqual({ 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] });
    });

    it('has a role with exactly its permissions plus the base set, and no wildcard action', () => {
      const actions = roleStatements(ruleId).flatMap((s) => s.Action);
      expect(actions.every((action) => !action.includes('*'))).toBe(true);
      expect(new Set(actions)).toEqual(new Set([...withImplied(Object.values(rule.permissions)), ...BASE_ACTIONS, ...LIVE_CONFIG_ACTIONS]));
      expect(roleStatements(ruleId).every((s) => s.Effect === 'Allow' || isAddDeny(s))).toBe(true);
    });

    it('keeps its logs for the configured retention and runs on nodejs22.x', () => {
      const logGroup = packaged.template.Resources[`${logicalPrefixOf(ruleId)}LogGroup`];
      expect(logGroup?.Properties?.RetentionInDays).toBe(90);
      const fn = packaged.template.Resources[`${logicalPrefixOf(ruleId)}LambdaFunction`];
      expect(fn?.Properties?.Runtime).toBe('nodejs22.x');
      expect(fn?.Properties?.Environment?.Variables?.TRAILGUARD_MODE).toBe('live');
    });

    it('is bundled under the 250 KB hard limit (zipped)', () => {
      expect(packaged.zips[functionKeyOf(ruleId)]).toBeLessThan(250 * 1024);
    });
  });

  it.each(RULES.filter((rule) => (ALERT_RULE_IDS as readonly string[]).includes(rule.id)).map((rule) => [rule.id, rule] as const))(
    '%s is notify-only: besides the base set, its role may only read (Describe*/Get*/List*)',
    (ruleId, rule) => {
      const own = roleStatements(ruleId)
        .flatMap((s) => s.Action)
        .filter((action) => !BASE_ACTIONS.includes(action) && !LIVE_CONFIG_ACTIONS.includes(action));
      for (const action of own) expect(action).toMatch(/^[a-z0-9-]+:(Describe|Get|List)[A-Z]\w*$/);
      expect(own).toEqual([...new Set(Object.values(rule.permissions))]);
      // The base set's writes land only on the stack's own log group, topic, queue and table.
      for (const statement of roleStatements(ruleId).filter((s) => s.Action.some((a) => BASE_ACTIONS.includes(a) && !a.startsWith('kms:')))) {
        expect(JSON.stringify(statement.Resource)).toMatch(/"Ref":"AlertTopic"|"Fn::GetAtt":\["(DeadLetterQueue|StateTable)","Arn"\]|log-group/);
      }
    },
  );

  it("has no role but the functions' own (the framework's unused default role is dropped)", () => {
    const roles = resourcesOfType(packaged.template, 'AWS::IAM::Role').map(([id]) => id);
    expect(roles).not.toContain('IamRoleLambdaExecution');
    for (const rule of RULES) expect(roles).toContain(`${logicalPrefixOf(rule.id)}IamRoleLambdaExecution`);
  });

  it('encrypts the alert topic and the dead-letter queue with a rotating customer key', () => {
    const { Resources: r } = packaged.template;
    expect(r.AlertTopic?.Properties?.KmsMasterKeyId).toEqual({ Ref: 'AlertTopicKey' });
    expect(r.DeadLetterQueue?.Properties?.KmsMasterKeyId).toEqual({ Ref: 'AlertTopicKey' });
    expect(r.AlertTopicKey?.Properties?.EnableKeyRotation).toBe(true);
  });

  it('subscribes an email address only when one is given', () => {
    expect(packaged.template.Resources.AlertEmailSubscription?.Condition).toBe('HasAlertEmail');
    expect(packaged.template.Conditions?.HasAlertEmail).toEqual({ 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] });
  });

  it('lets only this account and its own alarms publish to the topic, over TLS', () => {
    const statements = packaged.template.Resources.AlertTopicPolicy?.Properties?.PolicyDocument?.Statement as any[];
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows.map((s) => s.Principal)).toEqual([
      { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } },
      { Service: 'cloudwatch.amazonaws.com' },
    ]);
    expect(allows[1]?.Condition?.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    expect(allows.every((s) => s.Action === 'sns:Publish')).toBe(true);
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
  });

  it("lets no one outside the account use the key, and services only on this account's behalf", () => {
    const statements = packaged.template.Resources.AlertTopicKey?.Properties?.KeyPolicy?.Statement as any[];
    for (const statement of statements) {
      expect(statement.Principal).not.toBe('*');
      if (statement.Principal.Service) {
        expect(statement.Action).toEqual(['kms:GenerateDataKey', 'kms:Decrypt']);
        expect(statement.Condition).toEqual({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } });
      } else {
        expect(statement.Principal).toEqual({ AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } });
      }
    }
  });

  it("alarms on every function's errors and throttles and on the dead-letter queue, to the alert topic, and reserves no concurrency unless asked", () => {
    const alarms = resourcesOfType(packaged.template, 'AWS::CloudWatch::Alarm');
    const functions = resourcesOfType(packaged.template, 'AWS::Lambda::Function').map(([id]) => id);
    for (const fn of functions) {
      // Grouped by metric math (nine functions an alarm): each function's metric is in exactly one alarm per metric.
      for (const metric of ['Errors', 'Throttles']) {
        const watching = alarms.filter(([, a]) =>
          (a.Properties?.Metrics ?? []).some(
            (m: { MetricStat?: { Metric?: { MetricName?: string; Dimensions?: { Value?: { Ref?: string } }[] } } }) =>
              m.MetricStat?.Metric?.MetricName === metric && m.MetricStat.Metric.Dimensions?.[0]?.Value?.Ref === fn,
          ),
        );
        expect(watching, `${metric} alarm of ${fn}`).toHaveLength(1);
        expect(watching[0]?.[1].Properties?.AlarmActions).toEqual([{ Ref: 'AlertTopic' }]);
      }
      // Opt-in (parameter `concurrency`): 17 functions x 10 used to reserve 170, more than a low quota allows.
      expect(packaged.template.Resources[fn]?.Properties).toHaveProperty('Runtime', 'nodejs22.x');
      expect(packaged.template.Resources[fn]?.Properties).not.toHaveProperty('ReservedConcurrentExecutions');
    }
    const depth = alarms.find(([, a]) => a.Properties?.MetricName === 'ApproximateNumberOfMessagesVisible');
    expect(depth?.[1].Properties?.Dimensions).toEqual([{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['DeadLetterQueue', 'QueueName'] } }]);
  });

  it("saves the operators' Logs Insights queries over every function's log group", () => {
    const queries = resourcesOfType(packaged.template, 'AWS::Logs::QueryDefinition');
    const logGroups = resourcesOfType(packaged.template, 'AWS::Logs::LogGroup').map(([id]) => ({ Ref: id }));
    expect(queries.map(([, q]) => q.Properties?.Name).sort()).toEqual(
      ['alerts', 'by-resource', 'exposure-by-rule', 'failures', 'remediated-today', 'violations-by-actor'].map((n) => `trailguard-test/${n}`),
    );
    for (const [, query] of queries) {
      expect(query.Properties?.LogGroupNames).toEqual(logGroups);
      expect(query.Properties?.QueryString).toMatch(/^filter message = "trailguard remediation"/);
    }
  });

  it('keeps the audit trail when the stack is removed or a resource replaced: log groups, state table, dead-letter queue, key', () => {
    const logGroups = resourcesOfType(packaged.template, 'AWS::Logs::LogGroup');
    expect(logGroups.map(([id]) => id).sort()).toEqual(
      resourcesOfType(packaged.template, 'AWS::Lambda::Function')
        .map(([id]) => id.replace(/LambdaFunction$/, 'LogGroup'))
        .sort(),
    );
    const kept = [...logGroups.map(([id]) => id), 'StateTable', 'DeadLetterQueue', 'AlertTopicKey'];
    for (const id of kept) {
      expect(packaged.template.Resources[id], id).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    }
  });

  it('keeps the state table encrypted, expiring, and recoverable', () => {
    const table = packaged.template.Resources.StateTable?.Properties;
    expect(table?.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    expect(table?.SSESpecification).toEqual({ SSEEnabled: true });
    expect(table?.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table?.BillingMode).toBe('PAY_PER_REQUEST');
  });
});

// Actions that support no resource-level permissions: the only ones allowed on Resource '*'. The serial console calls
// change or read an account setting, which has no ARN.
const UNSCOPABLE =
  /^(ec2:Describe\w+|ec2:GetSerialConsoleAccessStatus|ec2:DisableSerialConsoleAccess|cloudtrail:DescribeTrails|cloudtrail:LookupEvents|s3:ListAllMyBuckets|scheduler:ListSchedules|organizations:ListAccounts|lambda:ListFunctions|iam:ListRoles)$/;

describe('least privilege, proven on the template', () => {
  it('denies every role that may change who a snapshot is shared with any add (make public, share out): it may only remove', () => {
    const sharing = RULES.filter((rule) => Object.values(rule.permissions).includes('ec2:ModifySnapshotAttribute')).map((rule) => rule.id);
    expect(sharing).toHaveLength(1);
    for (const ruleId of sharing) for (const deny of ADD_DENIES) expect(roleStatements(ruleId)).toContainEqual(deny);
    // The rule's sweep acts through the same rule: its role holds the same denies.
    const sweepRoles = sharing
      .filter((ruleId) => SWEEPS.some((sweep) => sweep.rule.id === ruleId))
      .map((ruleId) => `${logicalPrefixOf(ruleId)}SweepIamRoleLambdaExecution`);
    expect(sweepRoles.length).toBeGreaterThan(0);
    for (const id of sweepRoles) {
      const statements = ((packaged.template.Resources[id]?.Properties?.Policies as { PolicyDocument: { Statement: any[] } }[]) ?? []).flatMap(
        (p) => p.PolicyDocument.Statement,
      );
      for (const deny of ADD_DENIES) expect(statements, id).toContainEqual(deny);
    }
    // No other role holds a Deny of these.
    const roles = new Set([...sharing.map((ruleId) => `${logicalPrefixOf(ruleId)}IamRoleLambdaExecution`), ...sweepRoles]);
    const others = resourcesOfType(packaged.template, 'AWS::IAM::Role')
      .filter(([id]) => !roles.has(id))
      .flatMap(([, role]) => ((role.Properties?.Policies as { PolicyDocument: { Statement: any[] } }[]) ?? []).flatMap((p) => p.PolicyDocument.Statement));
    expect(others.filter(isAddDeny)).toEqual([]);
  });

  it('scopes every action to resources wherever the API allows', () => {
    const roles = resourcesOfType(packaged.template, 'AWS::IAM::Role');
    for (const [id, role] of roles) {
      const statements = ((role.Properties?.Policies as { PolicyDocument: { Statement: any[] } }[]) ?? []).flatMap((p) => p.PolicyDocument.Statement);
      for (const statement of statements) {
        const actions: string[] = [statement.Action].flat();
        const resources = [statement.Resource].flat();
        expect(
          actions.every((a) => !a.includes('*')),
          `${id}: ${actions.join(',')}`,
        ).toBe(true);
        // A Deny grants nothing: the one kind allowed only takes away adding a share.
        if (statement.Effect === 'Deny') {
          expect(isAddDeny(statement), `${id}: ${JSON.stringify(statement)}`).toBe(true);
          continue;
        }
        if (resources.includes('*')) {
          expect(
            actions.filter((a) => !UNSCOPABLE.test(a)),
            `${id} grants on '*'`,
          ).toEqual([]);
        } else {
          // Scoped to this account's resources: a Ref/GetAtt of the stack, or an ARN pattern with the account id; EC2
          // snapshot and image ARNs have no account field, so their owner is pinned by `ec2:Owner` instead.
          const ownedHere = JSON.stringify(statement.Condition?.StringEquals?.['ec2:Owner']) === '{"Ref":"AWS::AccountId"}';
          for (const resource of resources) {
            const text = JSON.stringify(resource);
            expect(
              text.includes('AWS::AccountId')
                || text.includes('"Ref"')
                || text.includes('Fn::GetAtt')
                || text.startsWith('{"Fn::Sub":"arn:${AWS::Partition}:s3:::')
                || (ownedHere && /^\{"Fn::Sub":"arn:\$\{AWS::Partition\}:ec2:\*::(snapshot|image)\/\*"\}$/.test(text)),
              `${id}: ${text}`,
            ).toBe(true);
          }
        }
      }
    }
  });

  it("lets the sweeps' scheduler role do nothing but invoke the sweep functions of this stack", () => {
    const role = packaged.template.Resources.SweepSchedulerRole?.Properties;
    expect(role?.AssumeRolePolicyDocument?.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'scheduler.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      },
    ]);
    const statements = (role!.Policies as { PolicyDocument: { Statement: any[] } }[]).flatMap((p) => p.PolicyDocument.Statement);
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: [{ 'Fn::Sub': 'arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:trailguard-test-*Sweep' }],
      },
    ]);
  });

  it("names, as the remediator's own roles, exactly the roles that write to the account, by exact name", () => {
    const writesToAccount = (action: string) => !BASE_ACTIONS.includes(action) && !/^\w+:(Get|Describe|List)/.test(action) && action !== 'iam:PassRole';
    // The functions' roles (the Scheduler roles only invoke functions, which no pattern sees).
    const writers = resourcesOfType(packaged.template, 'AWS::IAM::Role')
      .filter(([id]) => id.endsWith('IamRoleLambdaExecution'))
      .filter(([, role]) =>
        ((role.Properties?.Policies as { PolicyDocument: { Statement: any[] } }[]) ?? []).some((policy) =>
          policy.PolicyDocument.Statement.some((statement) => [statement.Action].flat().some(writesToAccount)),
        ),
      )
      .map(([, role]) => role.Properties?.RoleName);
    const functions = resourcesOfType(packaged.template, 'AWS::Lambda::Function');
    for (const [id, fn] of functions) {
      const selfRoles = String(fn.Properties?.Environment?.Variables?.TRAILGUARD_SELF_ROLES ?? '')
        .split(',')
        .map((name) => name.trim());
      expect(selfRoles.sort(), id).toEqual([...writers].sort());
      expect(
        selfRoles.some((name) => /[*?]/.test(name)),
        id,
      ).toBe(false);
    }
    // The writers are the functions whose code may write: every permission of a rule, sweep or check that is no read.
    const writesInCode = FUNCTIONS.filter((fn) => {
      const sweep = fn.kind === 'sweep' ? SWEEPS.find((s) => s.rule.id === fn.rule) : undefined;
      return [...Object.values(codeOf(fn).permissions), ...Object.values(sweep?.permissions ?? {})].some(writesToAccount);
    }).map((fn) => `trailguard-test-${fn.key}-role`);
    expect([...writers].sort()).toEqual(writesInCode.sort());
    expect(writers.length).toBeGreaterThan(0);
  });

  it('lets every function role be assumed by Lambda only (no Scheduler: the schedules have roles of their own)', () => {
    const functionRoles = resourcesOfType(packaged.template, 'AWS::IAM::Role').filter(([id]) => id.endsWith('IamRoleLambdaExecution'));
    expect(functionRoles).toHaveLength(resourcesOfType(packaged.template, 'AWS::Lambda::Function').length);
    for (const [id, role] of functionRoles) {
      expect(role.Properties?.AssumeRolePolicyDocument?.Statement, id).toEqual([
        { Effect: 'Allow', Principal: { Service: ['lambda.amazonaws.com'] }, Action: ['sts:AssumeRole'] },
      ]);
    }
  });

  it('lets every role be assumed only by its service', () => {
    for (const [id, role] of resourcesOfType(packaged.template, 'AWS::IAM::Role')) {
      const trust = role.Properties?.AssumeRolePolicyDocument?.Statement as any[];
      for (const statement of trust) {
        expect(statement.Principal?.Service, id).toBeDefined();
        expect(statement.Principal?.AWS, id).toBeUndefined();
      }
    }
  });
});

describe('the live configuration in SSM Parameter Store', () => {
  const parameterArn = (name: string) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${name}` });

  it('creates the rules parameter, empty, and outputs the prefix every function is given', () => {
    expect(packaged.template.Resources.RulesParameter).toEqual({
      Type: 'AWS::SSM::Parameter',
      Properties: expect.objectContaining({
        Name: '/trailguard/test/rules',
        Type: 'String',
        Value: '{}',
        Tier: 'Intelligent-Tiering',
        Description: expect.any(String),
      }),
    });
    expect(packaged.template.Outputs?.ParameterPrefix).toMatchObject({ Value: '/trailguard/test' });
    expect(FUNCTIONS.length).toBeGreaterThan(0);
    for (const { key } of FUNCTIONS) {
      const id = `${logicalPrefixOf(key)}LambdaFunction`;
      const fn = packaged.template.Resources[id];
      expect(fn?.Properties?.Environment?.Variables?.TRAILGUARD_PARAMETER_PREFIX, id).toBe('/trailguard/test');
      expect(fn?.Properties?.Environment?.Variables?.TRAILGUARD_CONFIG_MAX_AGE_SECONDS, id).toBe('60');
    }
  });

  it.each(FUNCTIONS.map((fn) => [fn.key, fn.rule] as const))(
    "lets %s read the rules and its own rule's two exemption folders, and nothing else",
    (key, rule) => {
      // The live configuration's statements; a rule's own read of the store (an alert on its changes) is held to its
      // permissions above, and to this stage's parameters below.
      const statements = statementsOf(`${logicalPrefixOf(key)}IamRoleLambdaExecution`).filter((s) =>
        [s.Action].flat().some((action: string) => LIVE_CONFIG_ACTIONS.includes(action)),
      );
      expect(statements).toEqual([
        {
          Effect: 'Allow',
          Action: ['ssm:GetParameters'],
          Resource: [
            parameterArn('/trailguard/test/rules'),
            parameterArn(`/trailguard/test/exemptions/${rule}/*`),
            parameterArn('/trailguard/test/exemptions/all/*'),
          ],
        },
        {
          Effect: 'Allow',
          Action: ['ssm:GetParametersByPath'],
          Resource: [parameterArn(`/trailguard/test/exemptions/${rule}`), parameterArn('/trailguard/test/exemptions/all')],
        },
      ]);
    },
  );
});

describe("a rule's own read of the parameter store", () => {
  it("is GetParameter alone, on this stage's parameters only, in its own statement", () => {
    const own = resourcesOfType(packaged.template, 'AWS::IAM::Role')
      .flatMap(([id]) => statementsOf(id))
      .filter((s) => [s.Action].flat().some((action: string) => action.startsWith('ssm:') && !LIVE_CONFIG_ACTIONS.includes(action)));
    for (const statement of own) {
      expect(statement).toEqual({
        Effect: 'Allow',
        Action: ['ssm:GetParameter'],
        Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/trailguard/test/*' },
      });
    }
    expect(own.length).toBe(RULES.filter((rule) => Object.values(rule.permissions).includes('ssm:GetParameter')).length);
  });
});

const statementsOf = (roleId: string) =>
  (packaged.template.Resources[roleId]!.Properties!.Policies as { PolicyDocument: { Statement: any[] } }[]).flatMap((p) => p.PolicyDocument.Statement);

describe.each(CHECK_FUNCTIONS.map((f) => [f.key, f] as const))('the %s scheduled check', (key, check) => {
  const prefix = logicalPrefixOf(key);

  it("has a role with exactly its code's permissions plus the base set", () => {
    const actions = statementsOf(`${prefix}IamRoleLambdaExecution`).flatMap((s) => [s.Action].flat());
    expect(new Set(actions)).toEqual(new Set([...check.actions, ...BASE_ACTIONS, ...LIVE_CONFIG_ACTIONS]));
    expect(check.actions.length).toBeGreaterThan(0);
  });

  it('has no event source, sends failed async invocations to the dead-letter queue, and is small', () => {
    const eventRules = resourcesOfType(packaged.template, 'AWS::Events::Rule').filter(([, r]) => JSON.stringify(r).includes(`${prefix}LambdaFunction`));
    expect(eventRules).toEqual([]);
    expect(packaged.template.Resources[`${prefix}LambdaEvConf`]?.Properties?.DestinationConfig?.OnFailure?.Destination).toEqual({
      'Fn::GetAtt': ['DeadLetterQueue', 'Arn'],
    });
    expect(packaged.template.Resources[`${prefix}LogGroup`]?.Properties?.RetentionInDays).toBe(90);
    expect(packaged.template.Resources[`${prefix}LambdaFunction`]?.Properties?.Runtime).toBe('nodejs22.x');
    expect(packaged.zips[key]).toBeLessThan(250 * 1024);
  });
});

describe('untagged-instance enforcement wiring', () => {
  const ENFORCE_FUNCTION = { 'Fn::GetAtt': ['UntaggedInstanceEnforceLambdaFunction', 'Arn'] };
  const SCHEDULER_ROLE = { 'Fn::GetAtt': ['UntaggedInstanceEnforceSchedulerRole', 'Arn'] };

  it("lets the enforcement function stop only this account's instances, and nothing terminates anywhere", () => {
    const stop = statementsOf('UntaggedInstanceEnforceIamRoleLambdaExecution').filter((s) => [s.Action].flat().includes('ec2:StopInstances'));
    expect(stop).toEqual([
      { Effect: 'Allow', Action: ['ec2:StopInstances'], Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:instance/*' } },
    ]);
    const everyAction = resourcesOfType(packaged.template, 'AWS::IAM::Role')
      .flatMap(([id]) => statementsOf(id))
      .flatMap((s) => [s.Action].flat());
    expect(everyAction).toContain('ec2:StopInstances');
    expect(everyAction.filter((a) => /Terminate/.test(a))).toEqual([]);
  });

  it('lets the tagging role create and read only trailguard-enforce-* schedules, and pass only the scheduler role, only to Scheduler', () => {
    const statements = statementsOf('UntaggedInstanceIamRoleLambdaExecution');
    expect(statements.filter((s) => [s.Action].flat().some((a: string) => a.startsWith('scheduler:')))).toEqual([
      {
        Effect: 'Allow',
        Action: ['scheduler:CreateSchedule', 'scheduler:GetSchedule'],
        Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/default/trailguard-enforce-*' },
      },
    ]);
    expect(statements.filter((s) => [s.Action].flat().includes('iam:PassRole'))).toEqual([
      {
        Effect: 'Allow',
        Action: ['iam:PassRole'],
        Resource: SCHEDULER_ROLE,
        Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      },
    ]);
  });

  it('has a scheduler role that only Scheduler of this account assumes and that can only invoke the enforcement function', () => {
    const role = packaged.template.Resources.UntaggedInstanceEnforceSchedulerRole?.Properties;
    expect(role?.AssumeRolePolicyDocument?.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'scheduler.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      },
    ]);
    expect(statementsOf('UntaggedInstanceEnforceSchedulerRole')).toEqual([{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: ENFORCE_FUNCTION }]);
  });

  it("tells the tagging function where its schedules point, from the stack's own resources", () => {
    const variables = packaged.template.Resources.UntaggedInstanceLambdaFunction?.Properties?.Environment?.Variables;
    expect(variables?.TRAILGUARD_ENFORCE_FUNCTION_ARN).toEqual(ENFORCE_FUNCTION);
    expect(variables?.TRAILGUARD_SCHEDULER_ROLE_ARN).toEqual(SCHEDULER_ROLE);
  });
});

describe.each(SWEEP_FUNCTIONS.map((f) => [f.key, f] as const))('the %s reconciliation sweep', (key, { sweep, actions }) => {
  const prefix = logicalPrefixOf(key);
  const statements = () =>
    (packaged.template.Resources[`${prefix}IamRoleLambdaExecution`]!.Properties!.Policies as { PolicyDocument: { Statement: any[] } }[]).flatMap(
      (p) => p.PolicyDocument.Statement,
    );

  it("has a role with exactly its rule's and its scan's permissions plus the base set, and never schedules a stop", () => {
    expect(new Set(statements().flatMap((s) => [s.Action].flat()))).toEqual(new Set([...actions, ...BASE_ACTIONS, ...LIVE_CONFIG_ACTIONS]));
    expect(actions.filter((action) => action.startsWith('scheduler:') || action === 'iam:PassRole')).toEqual([]);
  });

  it('runs on an EventBridge Scheduler schedule at sweepRate (hourly by default), in the configured mode, with room to page', () => {
    const schedules = resourcesOfType(packaged.template, 'AWS::Scheduler::Schedule').filter(([, r]) =>
      JSON.stringify(r.Properties?.Target ?? {}).includes(`"${prefix}LambdaFunction"`),
    );
    expect(schedules.map(([, r]) => r.Properties?.ScheduleExpression)).toEqual(['rate(1 hour)']);
    // Its own role, which may only invoke the sweeps; the scheduled time names the sweep's window.
    expect(schedules[0]?.[1].Properties?.Target).toEqual({
      Arn: { 'Fn::GetAtt': [`${prefix}LambdaFunction`, 'Arn'] },
      RoleArn: { 'Fn::GetAtt': ['SweepSchedulerRole', 'Arn'] },
      Input: '{"time":"<aws.scheduler.scheduled-time>"}',
    });
    expect(
      resourcesOfType(packaged.template, 'AWS::Events::Rule').filter(([, r]) =>
        JSON.stringify(r.Properties?.Targets ?? []).includes(`"${prefix}LambdaFunction"`),
      ),
    ).toEqual([]);
    const fn = packaged.template.Resources[`${prefix}LambdaFunction`]?.Properties;
    expect(fn?.Timeout).toBe(300);
    expect(fn?.Environment?.Variables?.TRAILGUARD_MODE).toBe('live');
    expect(fn?.Environment?.Variables?.TRAILGUARD_RULE).toBe(sweep.rule.id);
  });

  it('sends failed invocations to the dead-letter queue, keeps its logs, and is small', () => {
    expect(packaged.template.Resources[`${prefix}LambdaEvConf`]?.Properties?.DestinationConfig?.OnFailure?.Destination).toEqual({
      'Fn::GetAtt': ['DeadLetterQueue', 'Arn'],
    });
    expect(packaged.template.Resources[`${prefix}LogGroup`]?.Properties?.RetentionInDays).toBe(90);
    expect(packaged.zips[key]).toBeLessThan(250 * 1024);
  });
});
