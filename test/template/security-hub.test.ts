import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { packageOnce, resourcesOfType, type CfnResource, type Packaged } from '../helpers/template.js';

const { functionsOf, jobsOf } = createRequire(import.meta.url)('../../scripts/rule-files.cjs') as {
  functionsOf: () => { key: string }[];
  jobsOf: () => { key: string }[];
};
const EXPORTER = 'SecurityHubExporterLambdaFunction';
const PRODUCT = { 'Fn::Sub': 'arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default' };
const HUB = { 'Fn::Sub': 'arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:hub/default' };
/** Every field BatchUpdateFindings takes but Workflow and Note: each refused by a Deny (shared/security-hub/workflow.ts sends neither). */
const REFUSED_FIELDS = [
  'Confidence',
  'Criticality',
  'RelatedFindings',
  'Severity.Label',
  'Severity.Normalized',
  'Severity.Product',
  'Types',
  'UserDefinedFields.key',
  'UserDefinedFields.value',
  'VerificationState',
];
const statementsOf = (role: CfnResource | undefined): any[] =>
  ((role?.Properties?.Policies ?? []) as { PolicyDocument: { Statement: any[] } }[]).flatMap((p) => p.PolicyDocument.Statement);
const mentionsSecurityHub = (template: Packaged['template']) =>
  Object.entries(template.Resources)
    .filter(
      ([id, resource]) =>
        /securityhub/i.test(id) || /securityhub|logs\.amazonaws\.com/i.test(JSON.stringify(resource.Properties ?? {}).replace(/"Code":\{[^}]*\}/, '')),
    )
    .map(([id]) => id);

let off: Packaged;
let on: Packaged;
beforeAll(() => {
  off = packageOnce();
  on = packageOnce({ securityHub: 'true' });
});

describe('securityHub off (the default)', () => {
  it('has no exporter, no subscription, no permission for CloudWatch Logs and no Security Hub action anywhere', () => {
    expect(mentionsSecurityHub(off.template)).toEqual([]);
    expect(resourcesOfType(off.template, 'AWS::Logs::SubscriptionFilter')).toEqual([]);
    expect(resourcesOfType(off.template, 'AWS::Lambda::Permission').filter(([, p]) => p.Properties?.Principal === 'logs.amazonaws.com')).toEqual([]);
    expect(Object.keys(off.zips)).not.toContain('securityHubExporter');
    // The rule functions are there: the check above looked at a real template.
    expect(off.template.Resources.PublicBucketLambdaFunction?.Type).toBe('AWS::Lambda::Function');
  });
});

describe('securityHub on', () => {
  it("gives the exporter exactly BatchImportFindings on the account's default product, GetFindings and BatchUpdateFindings of Workflow.Status RESOLVED (and the Note) on its hub, and its failure queue", () => {
    const statements = statementsOf(on.template.Resources.SecurityHubExporterIamRoleLambdaExecution);
    const own = statements.filter((s) => ![s.Action].flat().some((a: string) => a.startsWith('logs:')));
    expect(own).toEqual([
      { Effect: 'Allow', Action: ['securityhub:BatchImportFindings'], Resource: PRODUCT },
      { Effect: 'Allow', Action: ['securityhub:GetFindings'], Resource: HUB },
      {
        Effect: 'Allow',
        Action: ['securityhub:BatchUpdateFindings'],
        Resource: HUB,
        Condition: { StringEquals: { 'securityhub:ASFFSyntaxPath/Workflow.Status': 'RESOLVED' } },
      },
      ...REFUSED_FIELDS.map((field) => ({
        Effect: 'Deny',
        Action: ['securityhub:BatchUpdateFindings'],
        Resource: '*',
        Condition: { Null: { [`securityhub:ASFFSyntaxPath/${field}`]: 'false' } },
      })),
      { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: { 'Fn::GetAtt': ['SecurityHubFailureQueue', 'Arn'] } },
      { Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: { 'Fn::GetAtt': ['AlertTopicKey', 'Arn'] } },
    ]);
    // No other role may import findings.
    const importers = resourcesOfType(on.template, 'AWS::IAM::Role')
      .filter(([, role]) => JSON.stringify(statementsOf(role)).includes('securityhub:'))
      .map(([id]) => id);
    expect(importers).toEqual(['SecurityHubExporterIamRoleLambdaExecution']);
  });

  it("subscribes every rule function's log group (every sweep and check too) on the record line, each with its own scoped permission", () => {
    const keys = functionsOf().map((fn) => fn.key);
    expect(keys).toContain('publicBucketSweep');
    expect(keys).toContain('untaggedInstanceEnforce');
    const filters = resourcesOfType(on.template, 'AWS::Logs::SubscriptionFilter');
    const subscribed = filters.map(([, f]) => f.Properties?.LogGroupName?.Ref).sort();
    const expected = keys.map((key) => `${key.charAt(0).toUpperCase()}${key.slice(1)}LogGroup`).sort();
    expect(subscribed).toEqual(expected);
    expect(subscribed).not.toContain('SecurityHubExporterLogGroup');
    // A stack job (jobs/<job>/) writes no record: its log group is not subscribed, though it has one.
    for (const { key } of jobsOf()) {
      const logGroup = `${key.charAt(0).toUpperCase()}${key.slice(1)}LogGroup`;
      expect(on.template.Resources[logGroup]?.Type, key).toBe('AWS::Logs::LogGroup');
      expect(subscribed, key).not.toContain(logGroup);
    }
    for (const [id, filter] of filters) {
      expect(filter.Properties, id).toMatchObject({
        FilterPattern: '{ $.message = "trailguard remediation" }',
        DestinationArn: { 'Fn::GetAtt': [EXPORTER, 'Arn'] },
      });
      const permissionId = (filter as { DependsOn?: string[] }).DependsOn?.[0] ?? '';
      expect(on.template.Resources[permissionId]?.Properties, id).toEqual({
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [EXPORTER, 'Arn'] },
        Principal: 'logs.amazonaws.com',
        SourceAccount: { Ref: 'AWS::AccountId' },
        SourceArn: { 'Fn::GetAtt': [filter.Properties?.LogGroupName?.Ref, 'Arn'] },
      });
    }
    expect(resourcesOfType(on.template, 'AWS::Lambda::Permission').filter(([, p]) => p.Properties?.Principal === 'logs.amazonaws.com')).toHaveLength(
      filters.length,
    );
  });

  it('retries a failed delivery twice, then keeps it in the failure queue, whose alarm tells the alert topic', () => {
    const config = resourcesOfType(on.template, 'AWS::Lambda::EventInvokeConfig').find(([, c]) => c.Properties?.FunctionName?.Ref === EXPORTER)?.[1];
    expect(config?.Properties).toMatchObject({
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['SecurityHubFailureQueue', 'Arn'] } } },
    });
    expect(on.template.Resources.SecurityHubFailureQueue?.Properties).toMatchObject({
      KmsMasterKeyId: { Ref: 'AlertTopicKey' },
      MessageRetentionPeriod: 1209600,
    });
    expect(on.template.Resources.SecurityHubFailureQueueAlarm?.Properties).toMatchObject({ AlarmActions: [{ Ref: 'AlertTopic' }], Threshold: 0 });
  });

  it('reserves two executions for the exporter, which needs no setting of its own (the records carry the controls)', () => {
    const exporter = on.template.Resources[EXPORTER]?.Properties;
    expect(exporter?.ReservedConcurrentExecutions).toBe(2);
    expect(Object.keys(exporter?.Environment?.Variables ?? {})).not.toContain('TRAILGUARD_SECURITY_HUB_CONTROLS');
  });

  it('builds the exporter under the 150 KB bundle budget, and leaves the rule functions exactly as without it', () => {
    expect(on.zips.securityHubExporter).toBeGreaterThan(0);
    expect(on.zips.securityHubExporter).toBeLessThan(150 * 1024);
    for (const key of Object.keys(off.zips))
      expect(on.template.Resources[`${key.charAt(0).toUpperCase()}${key.slice(1)}IamRoleLambdaExecution`], key).toEqual(
        off.template.Resources[`${key.charAt(0).toUpperCase()}${key.slice(1)}IamRoleLambdaExecution`],
      );
  });
});
