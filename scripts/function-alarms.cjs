// Serverless plugin: every function gets the same guard rails, so a new rule cannot forget them:
// an Errors alarm and a Throttles alarm that notify the alert topic, and reserved concurrency that bounds
// a burst (EventBridge invokes asynchronously; Lambda keeps throttled events and retries them for hours).
class FunctionAlarms {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:finalize': () => this.addAlarms() };
  }

  addAlarms() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const concurrency = Number(this.serverless.service.custom?.functionGuards?.concurrency ?? 10);
    const functions = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
    for (const [id, resource] of functions) {
      const base = id.replace(/LambdaFunction$/, '');
      resource.Properties.ReservedConcurrentExecutions = concurrency;
      for (const [metric, description] of [
        ['Errors', 'invocations failed (a transient AWS fault being retried, or a bug): check the function log'],
        ['Throttles', 'invocations were throttled by the concurrency limit (a burst): events are retried, watch the dead-letter queue'],
      ]) {
        template.Resources[`${base}${metric}Alarm`] = {
          Type: 'AWS::CloudWatch::Alarm',
          Properties: {
            AlarmName: { 'Fn::Join': ['-', [{ Ref: id }, metric.toLowerCase()]] },
            AlarmDescription: { 'Fn::Join': [' ', [{ Ref: id }, description]] },
            Namespace: 'AWS/Lambda',
            MetricName: metric,
            Dimensions: [{ Name: 'FunctionName', Value: { Ref: id } }],
            Statistic: 'Sum',
            Period: 300,
            EvaluationPeriods: 1,
            Threshold: 0,
            ComparisonOperator: 'GreaterThanThreshold',
            TreatMissingData: 'notBreaching',
            AlarmActions: [{ Ref: 'AlertTopic' }],
          },
        };
      }
    }
  }
}

module.exports = FunctionAlarms;
