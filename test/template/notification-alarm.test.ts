import { beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_READ_FAILED_MESSAGE } from '../../shared/live-config/live-config.js';
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
      expect(filter?.MetricTransformations).toEqual([
        { MetricNamespace: 'trailguard-test', MetricName: 'NotificationFailed', MetricValue: '1', Unit: 'Count' },
      ]);
    }
  });

  it('alarms on the first failed notification, to the alert topic', () => {
    const alarm = packaged.template.Resources.NotificationFailedAlarm?.Properties;
    expect(alarm).toMatchObject({
      Namespace: 'trailguard-test',
      MetricName: 'NotificationFailed',
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: 'AlertTopic' }],
    });
    expect(alarm?.Dimensions).toBeUndefined(); // the filters publish without dimensions: one metric for every function
  });
});

describe('a rejected live configuration value alarms', () => {
  it('counts "trailguard config rejected" lines in every function\'s log group, and alarms on the first to the alert topic', () => {
    const filters = resourcesOfType(packaged.template, 'AWS::Logs::MetricFilter')
      .map(([, f]) => f.Properties)
      .filter((f) => f?.MetricTransformations?.[0]?.MetricName === 'ConfigRejected');
    const functions = resourcesOfType(packaged.template, 'AWS::Lambda::Function').map(([id]) => id);
    expect(filters.map((f) => f?.LogGroupName?.Ref).sort()).toEqual(functions.map((fn) => `${fn.replace(/LambdaFunction$/, '')}LogGroup`).sort());
    for (const filter of filters) {
      expect(filter?.FilterPattern).toBe('{ $.message = "trailguard config rejected" }');
      expect(filter?.MetricTransformations).toEqual([{ MetricNamespace: 'trailguard-test', MetricName: 'ConfigRejected', MetricValue: '1', Unit: 'Count' }]);
    }
    expect(packaged.template.Resources.ConfigRejectedAlarm?.Properties).toMatchObject({
      AlarmName: 'trailguard-test-config-rejected',
      Namespace: 'trailguard-test',
      MetricName: 'ConfigRejected',
      Statistic: 'Sum',
      Period: 300,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: 'AlertTopic' }],
    });
  });
});

describe('a live configuration that cannot be read alarms', () => {
  it('counts "trailguard config read failed" lines in every function\'s log group, and alarms on the first to the alert topic', () => {
    const filters = resourcesOfType(packaged.template, 'AWS::Logs::MetricFilter')
      .map(([, f]) => f.Properties)
      .filter((f) => f?.MetricTransformations?.[0]?.MetricName === 'ConfigReadFailed');
    const functions = resourcesOfType(packaged.template, 'AWS::Lambda::Function').map(([id]) => id);
    expect(functions.length).toBeGreaterThan(0);
    expect(filters.map((f) => f?.LogGroupName?.Ref).sort()).toEqual(functions.map((fn) => `${fn.replace(/LambdaFunction$/, '')}LogGroup`).sort());
    for (const filter of filters) {
      expect(filter?.FilterPattern).toBe(`{ $.message = "${CONFIG_READ_FAILED_MESSAGE}" }`);
      expect(filter?.MetricTransformations).toEqual([{ MetricNamespace: 'trailguard-test', MetricName: 'ConfigReadFailed', MetricValue: '1', Unit: 'Count' }]);
    }
    expect(packaged.template.Resources.ConfigReadFailedAlarm?.Properties).toMatchObject({
      AlarmName: 'trailguard-test-config-read-failed',
      Namespace: 'trailguard-test',
      MetricName: 'ConfigReadFailed',
      Statistic: 'Sum',
      Period: 300,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: 'AlertTopic' }],
    });
  });
});
