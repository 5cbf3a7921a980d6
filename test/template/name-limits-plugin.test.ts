import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// The name check itself, on small templates, without packaging.
const NameLimits = createRequire(import.meta.url)('../../scripts/name-limits.cjs') as {
  new (serverless: unknown): { hooks: Record<string, () => void> };
  checkNames: (template: unknown, options: { service: string; stage: string }) => { tooLong: { id: string; name: string }[]; maxStageLength: number };
};

const fn = (name: string) => ({ Type: 'AWS::Lambda::Function', Properties: { FunctionName: name } });
const role = (name: string) => ({
  Type: 'AWS::IAM::Role',
  Properties: { RoleName: name, Policies: [{ PolicyName: { 'Fn::Join': ['-', ['svc', 'st', 'lambda']] } }] },
});

function pluginFor(stage: string, resources: Record<string, unknown>) {
  const serverless = {
    service: { service: 'svc', provider: { stage, compiledCloudFormationTemplate: { Resources: resources } } },
    classes: { Error },
  };
  return new NameLimits(serverless);
}

describe('the name-limits plugin', () => {
  it('passes names within their limits and refuses the first over one, with the stage that would fit', () => {
    const stage = 's'.repeat(10);
    const ok = { F: fn(`svc-${stage}-${'f'.repeat(49)}`) }; // 4 + 10 + 1 + 49 = 64
    const over = { F: fn(`svc-${stage}-${'f'.repeat(50)}`), R: role(`svc-${stage}-r`) };

    expect(() => pluginFor(stage, ok).hooks['before:package:finalize']?.()).not.toThrow();
    expect(() => pluginFor(stage, over).hooks['before:package:finalize']?.()).toThrow(
      `name-limits: stage "${stage}" (10 characters) makes names longer than AWS allows: the Lambda function name "svc-${stage}-${'f'.repeat(50)}" (F) would be 65 characters, over the limit of 64. With these settings the stage can be at most 9 characters: choose a shorter stage.`,
    );
  });

  it('resolves names built with Ref and Fn::Join (an alarm named after its function) and counts each occurrence of the stage', () => {
    const stage = 'st';
    const resources = {
      F: fn(`svc-${stage}-f`),
      A: { Type: 'AWS::CloudWatch::Alarm', Properties: { AlarmName: { 'Fn::Join': ['-', [{ Ref: 'F' }, 'x'.repeat(243)]] } } }, // 8 + 1 + 243 = 252
      Q: { Type: 'AWS::SQS::Queue', Properties: { QueueName: `svc-${stage}-svc-${stage}-${'q'.repeat(67)}` } }, // 7 + 7 + 1 + 67 = 82, two stages
    };
    const { tooLong, maxStageLength } = NameLimits.checkNames({ Resources: resources }, { service: 'svc', stage });

    expect(tooLong.map((n) => n.id)).toEqual(['Q']);
    // The queue's 82 characters hold the stage twice: 78 are fixed, so (80 - 78) / 2 = 1; the alarm's 250 fixed allow 5.
    expect(maxStageLength).toBe(1);
  });

  it('says so when the name over its limit does not depend on the stage', () => {
    const resources = { R: role('x'.repeat(65)) };
    expect(() => pluginFor('dev', resources).hooks['before:package:finalize']?.()).toThrow(
      /IAM role name "x{65}" \(R\) would be 65 characters, over the limit of 64\. That name does not depend on the stage/,
    );
  });

  it('refuses a name whose length it cannot know, rather than leave it unchecked', () => {
    const resources = { T: { Type: 'AWS::SNS::Topic', Properties: { TopicName: { 'Fn::Sub': '${AWS::StackName}-alerts' } } } };
    expect(() => pluginFor('dev', resources).hooks['before:package:finalize']?.()).toThrow(/cannot tell the length of T's TopicName/);
  });
});
