import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// The guard-rails plugin without packaging: what `--param concurrency=…` becomes, and what it refuses.
const FunctionAlarms = createRequire(import.meta.url)('../../scripts/function-alarms.cjs') as new (
  serverless: unknown,
) => {
  hooks: Record<string, () => void>;
};

function pluginWith(concurrency: unknown) {
  const resources: Record<string, { Type: string; Properties: Record<string, unknown> }> = {
    PublicBucketLambdaFunction: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'trailguard-test-publicBucket' } },
    RootActivityLambdaFunction: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'trailguard-test-rootActivity' } },
  };
  const serverless = {
    service: {
      service: 'trailguard',
      provider: { stage: 'test', compiledCloudFormationTemplate: { Resources: resources } },
      custom: { functionGuards: concurrency === undefined ? {} : { concurrency } },
    },
    classes: { Error },
  };
  const plugin = new FunctionAlarms(serverless);
  const reserved = () => [resources.PublicBucketLambdaFunction, resources.RootActivityLambdaFunction].map((fn) => fn?.Properties.ReservedConcurrentExecutions);
  return { plugin, resources, reserved };
}

describe('reserved concurrency (parameter concurrency)', () => {
  it.each([[undefined], [''], ['  '], [null]])('reserves none when unset or empty (%j): the default', (value) => {
    const { plugin, resources, reserved } = pluginWith(value);
    plugin.hooks['before:package:initialize']?.();
    plugin.hooks['before:package:finalize']?.();
    expect(reserved()).toEqual([undefined, undefined]);
    expect(resources.PublicBucketErrorsAlarm?.Type).toBe('AWS::CloudWatch::Alarm');
  });

  it.each([
    [5, 5],
    ['5', 5],
    [' 12 ', 12],
    [1, 1],
  ])('reserves %j executions per function when asked', (value, expected) => {
    const { plugin, reserved } = pluginWith(value);
    plugin.hooks['before:package:initialize']?.();
    plugin.hooks['before:package:finalize']?.();
    expect(reserved()).toEqual([expected, expected]);
  });

  it.each([[0], ['0'], [-1], ['-3'], [1.5], ['2.0'], ['ten'], ['10x'], ['null'], [true], ['1e3'], ['99999999999999999999']])(
    'refuses %j before anything is built, saying what it takes',
    (value) => {
      const { plugin, reserved } = pluginWith(value);
      expect(() => plugin.hooks['before:package:initialize']?.()).toThrow(
        `functionGuards: concurrency "${value}" must be a positive integer (reserved concurrent executions per function), or empty for none`,
      );
      expect(() => plugin.hooks['before:package:finalize']?.()).toThrow(/must be a positive integer/);
      expect(reserved()).toEqual([undefined, undefined]);
    },
  );
});
