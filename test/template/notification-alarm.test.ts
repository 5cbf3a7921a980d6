import { beforeAll, describe, expect, it } from 'vitest';
import { packageOnce, resourcesOfType, type Packaged } from '../helpers/template.js';

let packaged: Packaged;
beforeAll(() => {
  packaged = packageOnce();
});

describe('a notification that could not be published alarms', () => {
  it('counts records with notification.status "failed" in every function\'s log group', () => {
    const filters = resourcesOfType(packaged.template, 'AWS::Logs::MetricFilter').map(([, f]) => f.Properties);
    const functions = resourcesOfType(packaged.template, 'AWS::Lambda::Function').map(([id]) => id);
    expect(functions.length).toBeGreaterThan(0);
    for (const fn of functions) {
      const logGroup = `${fn.replace(/LambdaFunction$/, '')}LogGroup`;
      expect(packaged.template.Resources[logGroup]?.Type, logGroup).toBe('AWS::Logs::LogGroup');
      const filter = filters.find((f) => f?.LogGroupName?.Ref === logGroup);
      expect(filter, `metric filter on ${logGroup}`).toBeDefined();
      expect(filter?.FilterPattern).toBe('{ ($.message = "trailguard remediation") && ($.notification.status = "failed") }');
      expect(filter?.MetricTransformations).toEqual([{ MetricNamespace: 'trailguard-test', MetricName: 'NotificationFailed', MetricValue: '1', Unit: 'Count' }]);
    }
  });

  it('alarms on the first failed notification, to the alert topic', () => {
    const alarm = packaged.template.Resources.NotificationFailedAlarm?.Properties;
    expect(alarm).toMatchObject({
      Namespace: 'trailguard-test', MetricName: 'NotificationFailed', Statistic: 'Sum', Period: 300, EvaluationPeriods: 1,
      Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching', AlarmActions: [{ Ref: 'AlertTopic' }],
    });
    expect(alarm?.Dimensions).toBeUndefined(); // the filters publish without dimensions: one metric for every function
  });
});
