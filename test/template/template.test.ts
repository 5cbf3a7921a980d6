import { beforeAll, describe, expect, it } from 'vitest';
import { RULES } from '../../functions/rules.js';
import { functionKeyOf, logicalPrefixOf, packageOnce, resourcesOfType, type Packaged } from '../helpers/template.js';

// What every function role holds besides its rule's own permissions: its logs, the alert topic
// (and its KMS key), the dead-letter queue for async failures, and the state table (idempotency,
// circuit breaker, digests).
const BASE_ACTIONS = [
  'logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'sns:Publish', 'kms:GenerateDataKey', 'kms:Decrypt',
  'sqs:SendMessage', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem',
];

let packaged: Packaged;
beforeAll(() => {
  packaged = packageOnce();
});

function roleStatements(ruleId: string): { Effect: string; Action: string[]; Resource: unknown }[] {
  const role = packaged.template.Resources[`${logicalPrefixOf(ruleId)}IamRoleLambdaExecution`];
  expect(role, `role of ${ruleId}`).toBeDefined();
  return (role?.Properties?.Policies as { PolicyDocument: { Statement: any[] } }[]).flatMap((p) => p.PolicyDocument.Statement);
}

describe('the packaged CloudFormation template', () => {
  it('has one function per rule and no other', () => {
    const functions = resourcesOfType(packaged.template, 'AWS::Lambda::Function').map(([id]) => id).sort();
    expect(functions).toEqual(RULES.map((rule) => `${logicalPrefixOf(rule.id)}LambdaFunction`).sort());
  });

  describe.each(RULES.map((rule) => [rule.id, rule] as const))('%s', (ruleId, rule) => {
    it('triggers on exactly the pattern the code matches', () => {
      const rules = resourcesOfType(packaged.template, 'AWS::Events::Rule').filter(([id]) => id.toLowerCase().includes(functionKeyOf(ruleId).toLowerCase()));
      expect(rules).toHaveLength(1);
      expect(rules[0]?.[1].Properties?.EventPattern).toEqual(rule.pattern);
    });

    it('sends failed deliveries to the dead-letter queue, with a retry policy', () => {
      const [, eventRule] = resourcesOfType(packaged.template, 'AWS::Events::Rule').find(([id]) => id.toLowerCase().includes(functionKeyOf(ruleId).toLowerCase())) ?? [];
      const target = eventRule?.Properties?.Targets?.[0];
      expect(target?.DeadLetterConfig?.Arn).toEqual({ 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] });
      expect(target?.RetryPolicy).toEqual({ MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 3600 });
      const invokeConfig = packaged.template.Resources[`${logicalPrefixOf(ruleId)}LambdaEvConf`];
      expect(invokeConfig?.Properties?.DestinationConfig?.OnFailure?.Destination).toEqual({ 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] });
    });

    it('has a role with exactly its permissions plus the base set, and no wildcard action', () => {
      const actions = roleStatements(ruleId).flatMap((s) => s.Action);
      expect(actions.every((action) => !action.includes('*'))).toBe(true);
      expect(new Set(actions)).toEqual(new Set([...new Set(Object.values(rule.permissions)), ...BASE_ACTIONS]));
      expect(roleStatements(ruleId).every((s) => s.Effect === 'Allow')).toBe(true);
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

  it('has no role but the functions\' own (the framework\'s unused default role is dropped)', () => {
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

  it('lets only this account publish to the topic', () => {
    const statements = packaged.template.Resources.AlertTopicPolicy?.Properties?.PolicyDocument?.Statement as any[];
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0]?.Principal).toEqual({ AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } });
  });
});
