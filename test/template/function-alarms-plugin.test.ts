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
    expect(resources.FunctionGroup1ErrorsAlarm?.Type).toBe('AWS::CloudWatch::Alarm');
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

describe('the guard-rail alarms, grouped to keep the stack under 500 resources', () => {
  function withFunctions(count: number) {
    const resources: Record<string, { Type: string; Properties: Record<string, unknown> }> = {};
    for (let i = 0; i < count; i += 1) {
      resources[`Rule${String(i).padStart(2, '0')}LambdaFunction`] = {
        Type: 'AWS::Lambda::Function',
        Properties: { FunctionName: `trailguard-test-rule${i}` },
      };
    }
    const serverless = {
      service: { service: 'trailguard', provider: { stage: 'test', compiledCloudFormationTemplate: { Resources: resources } }, custom: {} },
      classes: { Error },
    };
    const plugin = new FunctionAlarms(serverless);
    plugin.hooks['before:package:initialize']?.();
    plugin.hooks['before:package:finalize']?.();
    return resources;
  }
  type Alarm = { Properties: { Metrics: { Id: string; MetricStat?: { Metric: { Dimensions: { Value: { Ref: string } }[] } }; Expression?: string }[] } };

  it('watches every function once per metric, nine per alarm, summed by metric math (at most 10 metrics each)', () => {
    const resources = withFunctions(20);
    const alarms = Object.entries(resources).filter(([id]) => /^FunctionGroup\d+ErrorsAlarm$/.test(id));
    expect(alarms.map(([id]) => id)).toEqual(['FunctionGroup1ErrorsAlarm', 'FunctionGroup2ErrorsAlarm', 'FunctionGroup3ErrorsAlarm']);
    const watched = alarms.flatMap(([, a]) =>
      (a as unknown as Alarm).Properties.Metrics.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.Dimensions[0]?.Value.Ref] : [])),
    );
    expect(watched.sort()).toEqual(
      Object.keys(resources)
        .filter((id) => id.endsWith('LambdaFunction'))
        .sort(),
    );
    for (const [, alarm] of alarms) {
      const metrics = (alarm as unknown as Alarm).Properties.Metrics;
      expect(metrics.length).toBeLessThanOrEqual(10);
      expect(metrics.at(-1)?.Expression).toBe(
        metrics
          .slice(0, -1)
          .map((m) => `FILL(${m.Id}, 0)`)
          .join(' + '),
      );
    }
    expect(resources.FunctionGroup3ThrottlesAlarm?.Type).toBe('AWS::CloudWatch::Alarm');
  });

  it('deploys no metric filter: every function gets the namespace its metric lines are written in', () => {
    const resources = withFunctions(3);
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::Logs::MetricFilter')).toEqual([]);
    for (const [id, fn] of Object.entries(resources).filter(([k]) => k.endsWith('LambdaFunction'))) {
      expect((fn.Properties.Environment as { Variables: Record<string, string> }).Variables.TRAILGUARD_METRICS_NAMESPACE, id).toBe('trailguard-test');
    }
    expect(resources.NotificationFailedAlarm?.Properties).toMatchObject({ Namespace: 'trailguard-test', MetricName: 'NotificationFailed' });
  });
});
