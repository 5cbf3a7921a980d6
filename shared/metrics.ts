/**
 * The stack's own alarm metrics, as CloudWatch's embedded metric format: a log line with an `_aws` member is turned
 * into a metric by CloudWatch Logs itself, so no metric filter per function log group is deployed (three per
 * function took the template past CloudFormation's 500 resources). The namespace is the stack's
 * (`<service>-<stage>`, TRAILGUARD_METRICS_NAMESPACE, set on every function); without it (the CLI, tests) no metric
 * is written. No dimensions: one alarm per metric watches every function.
 */
export const METRICS_NAMESPACE_ENV = 'TRAILGUARD_METRICS_NAMESPACE';

/** The metrics the stack alarms on (scripts/function-alarms.cjs names the same). */
export type AlarmMetric = 'NotificationFailed' | 'ConfigRejected' | 'ConfigReadFailed';

/**
 * The members that make a log line a metric datum: `_aws` and the metric's value. Empty without a namespace, so a
 * line outside Lambda is unchanged.
 */
export function metricFields(
  metric: AlarmMetric,
  count: number,
  nowMs: number,
  namespace: string | undefined = process.env[METRICS_NAMESPACE_ENV],
): Record<string, unknown> {
  if (!namespace) return {};
  return {
    _aws: { Timestamp: nowMs, CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [[]], Metrics: [{ Name: metric, Unit: 'Count' }] }] },
    [metric]: count,
  };
}
