// Serverless plugin: every function gets the same guard rails, so a new rule cannot forget them:
// an Errors alarm and a Throttles alarm that notify the alert topic, reserved concurrency that bounds
// a burst (EventBridge invokes asynchronously; Lambda keeps throttled events and retries them for hours),
// and its log group in the operators' saved Logs Insights queries.
class FunctionAlarms {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:finalize': () => this.addAlarms() };
  }

  addAlarms() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const guards = this.serverless.service.custom?.functionGuards ?? {};
    const concurrency = Number(guards.concurrency ?? 10);
    this.addSavedQueries(template, guards.savedQueries ?? {});
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

/** One saved Logs Insights query per entry of `custom.functionGuards.savedQueries`, over every function's log group. */
FunctionAlarms.prototype.addSavedQueries = function addSavedQueries(template, queries) {
  const logGroups = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Logs::LogGroup').map(([id]) => ({ Ref: id }));
  const service = this.serverless.service.service;
  const stage = this.serverless.service.provider.stage;
  for (const [name, query] of Object.entries(queries)) {
    const id = `SavedQuery${name.replace(/(^|-)([a-z])/g, (_, __, c) => c.toUpperCase())}`;
    template.Resources[id] = {
      Type: 'AWS::Logs::QueryDefinition',
      Properties: { Name: `${service}-${stage}/${name}`, QueryString: String(query).trim(), LogGroupNames: logGroups },
    };
  }
};

module.exports = FunctionAlarms;
