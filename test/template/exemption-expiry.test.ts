// The weekly exemption notice as packaged: its schedule, its exact permissions (one path to read, the topic to
// publish to), no rule's live-configuration reads, and its bundle inside the 150 KB budget.
import { beforeAll, describe, expect, it } from 'vitest';
import { packageOnce, resourcesOfType, type CfnResource, type Packaged } from '../helpers/template.js';

const statementsOf = (role: CfnResource | undefined): any[] =>
  ((role?.Properties?.Policies ?? []) as { PolicyDocument: { Statement: any[] } }[]).flatMap((p) => p.PolicyDocument.Statement);

let packaged: Packaged;
beforeAll(() => {
  packaged = packageOnce();
});

describe('the weekly exemption notice', () => {
  it('runs Mondays at 09:00 UTC from an EventBridge schedule allowed to invoke only it', () => {
    const fn = packaged.template.Resources.ExemptionExpiryLambdaFunction;
    expect(fn?.Properties?.Handler).toBe('jobs/exemption-expiry/handler.handler');
    expect(fn?.Properties?.Environment?.Variables).toMatchObject({ TRAILGUARD_JOB: 'exemption-expiry', TRAILGUARD_PARAMETER_PREFIX: '/trailguard/test' });
    expect(fn?.Properties?.Environment?.Variables?.TRAILGUARD_RULE).toBeUndefined();
    const schedules = resourcesOfType(packaged.template, 'AWS::Events::Rule').filter(([, rule]) =>
      JSON.stringify(rule.Properties?.Targets).includes('ExemptionExpiryLambdaFunction'),
    );
    expect(schedules).toHaveLength(1);
    const [scheduleId, schedule] = schedules[0] ?? [];
    expect(schedule?.Properties?.ScheduleExpression).toBe('cron(0 9 ? * MON *)');
    expect(schedule?.Properties?.EventPattern).toBeUndefined();
    const permissions = resourcesOfType(packaged.template, 'AWS::Lambda::Permission').filter(([, p]) =>
      JSON.stringify(p.Properties?.FunctionName).includes('ExemptionExpiryLambdaFunction'),
    );
    expect(permissions.map(([, p]) => p.Properties)).toEqual([
      expect.objectContaining({
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': [scheduleId, 'Arn'] },
      }),
    ]);
  });

  it('may read exactly the exemptions path (recursively, as GetParametersByPath authorizes the path) and publish to the topic', () => {
    const role = packaged.template.Resources.ExemptionExpiryIamRoleLambdaExecution;
    expect(role?.Properties?.RoleName).toBe('trailguard-test-exemptionExpiry-role');
    const own = statementsOf(role).filter((s) => ![s.Action].flat().some((a: string) => a.startsWith('logs:')));
    expect(own).toEqual([
      {
        Effect: 'Allow',
        Action: ['ssm:GetParametersByPath'],
        Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/trailguard/test/exemptions' },
      },
      { Effect: 'Allow', Action: ['sns:Publish'], Resource: { Ref: 'AlertTopic' } },
      { Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: { 'Fn::GetAtt': ['AlertTopicKey', 'Arn'] } },
      { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: { 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] } },
    ]);
    // No other role reads the whole exemptions tree: each rule's functions read their own two folders.
    const readers = resourcesOfType(packaged.template, 'AWS::IAM::Role')
      .filter(
        ([, r]) =>
          JSON.stringify(statementsOf(r)).includes("parameter/trailguard/test/exemptions'")
          || JSON.stringify(statementsOf(r)).includes('parameter/trailguard/test/exemptions"'),
      )
      .map(([id]) => id);
    expect(readers).toEqual(['ExemptionExpiryIamRoleLambdaExecution']);
  });

  it('builds under the 150 KB bundle budget (zipped)', () => {
    expect(packaged.zips.exemptionExpiry).toBeGreaterThan(0);
    expect(packaged.zips.exemptionExpiry).toBeLessThan(150 * 1000);
  });
});
