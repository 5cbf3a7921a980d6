import { beforeAll, describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE_ENV } from '../../shared/metrics.js';
import { packageOnce, resourcesOfType, type Packaged } from '../helpers/template.js';

let packaged: Packaged;
beforeAll(() => {
  packaged = packageOnce();
});

// The stack's alarm metrics are written by the functions as embedded metric format (shared/metrics.ts, tested there):
// CloudWatch Logs makes them metrics with no metric filter resource (three per function took the stack past 500).
describe('the log-line alarms: notification failed, configuration rejected, configuration unreadable', () => {
  it('deploys no metric filter, and gives every function the namespace its metric lines are written in', () => {
    expect(resourcesOfType(packaged.template, 'AWS::Logs::MetricFilter')).toEqual([]);
    const functions = resourcesOfType(packaged.template, 'AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(0);
    for (const [id, fn] of functions) expect(fn.Properties?.Environment?.Variables?.[METRICS_NAMESPACE_ENV], id).toBe('trailguard-test');
  });

  it.each([
    ['NotificationFailedAlarm', 'NotificationFailed', 'trailguard-test-notification-failed'],
    ['ConfigRejectedAlarm', 'ConfigRejected', 'trailguard-test-config-rejected'],
    ['ConfigReadFailedAlarm', 'ConfigReadFailed', 'trailguard-test-config-read-failed'],
  ])('%s alarms on the first count of %s, to the alert topic', (id, metric, name) => {
    const alarm = packaged.template.Resources[id]?.Properties;
    expect(alarm).toMatchObject({
      AlarmName: name,
      Namespace: 'trailguard-test',
      MetricName: metric,
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: 'AlertTopic' }],
    });
    expect(alarm?.Dimensions).toBeUndefined(); // the lines publish without dimensions: one metric for every function
  });
});

describe('the stack stays within what CloudFormation takes', () => {
  it('holds fewer than 500 resources (CloudFormation refuses more), with room to grow', () => {
    expect(Object.keys(packaged.template.Resources).length).toBeLessThan(450);
  });
});
