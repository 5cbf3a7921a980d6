// Serverless plugin: every function gets the same guard rails, so a new rule cannot forget them:
// Errors and Throttles alarms that notify the alert topic (one per metric for each group of up to nine functions,
// by metric math: one per function took the stack past CloudFormation's 500 resources), reserved concurrency when asked for
// (`custom.functionGuards.concurrency`: it bounds a burst; EventBridge invokes asynchronously, and Lambda keeps
// throttled events and retries them for hours), and its log group in the operators' saved Logs Insights queries.
class FunctionAlarms {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      // Checked first, so a bad value is refused before anything is built.
      'before:package:initialize': () => this.reservedConcurrency(),
      'before:package:finalize': () => this.addAlarms(),
    };
  }

  addAlarms() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const guards = this.serverless.service.custom?.functionGuards ?? {};
    const concurrency = this.reservedConcurrency();
    this.addSavedQueries(template, guards.savedQueries ?? {});
    this.addNotificationFailedAlarm(template);
    this.addConfigRejectedAlarm(template);
    this.addConfigReadFailedAlarm(template);
    const functions = Object.entries(template.Resources)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
      .sort(([a], [b]) => a.localeCompare(b));
    for (const [, resource] of functions) {
      if (concurrency !== undefined) resource.Properties.ReservedConcurrentExecutions = concurrency;
      // The namespace of the metrics the code writes as embedded metric format (shared/metrics.ts).
      resource.Properties.Environment ??= {};
      resource.Properties.Environment.Variables ??= {};
      resource.Properties.Environment.Variables.TRAILGUARD_METRICS_NAMESPACE = this.namespace();
    }
    const groups = chunks(
      functions.map(([id]) => id),
      FUNCTIONS_PER_ALARM,
    );
    groups.forEach((group, index) => {
      for (const [metric, description] of [
        ['Errors', 'invocations failed (a transient AWS fault being retried, or a bug): check the log of the function whose Errors metric is up'],
        ['Throttles', 'invocations were throttled by the concurrency limit (a burst): events are retried, watch the dead-letter queue'],
      ]) {
        template.Resources[`FunctionGroup${index + 1}${metric}Alarm`] = groupAlarm(group, metric, {
          AlarmName: `${this.namespace()}-functions-${index + 1}-of-${groups.length}-${metric.toLowerCase()}`,
          AlarmDescription: {
            'Fn::Join': ['', [`One of ${group.length} functions: `, { 'Fn::Join': [', ', group.map((id) => ({ Ref: id }))] }, `: ${description}`]],
          },
        });
      }
    });
  }
}

// An alarm's metric math holds at most 10 metrics: nine functions and the sum.
const FUNCTIONS_PER_ALARM = 9;

const chunks = (items, size) => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, i * size + size));

/** Any count of `metric` (AWS/Lambda, per function) summed over the group within five minutes. */
function groupAlarm(group, metric, naming) {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      ...naming,
      Metrics: [
        ...group.map((id, i) => ({
          Id: `f${i + 1}`,
          MetricStat: {
            Metric: { Namespace: 'AWS/Lambda', MetricName: metric, Dimensions: [{ Name: 'FunctionName', Value: { Ref: id } }] },
            Period: 300,
            Stat: 'Sum',
          },
          ReturnData: false,
        })),
        { Id: 'total', Expression: group.map((_, i) => `FILL(f${i + 1}, 0)`).join(' + '), Label: `${metric} of the group`, ReturnData: true },
      ],
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: 'AlertTopic' }],
    },
  };
}

/** The stack's metric namespace: `<service>-<stage>`. */
FunctionAlarms.prototype.namespace = function namespace() {
  return `${this.serverless.service.service}-${this.serverless.service.provider.stage}`;
};

/**
 * `custom.functionGuards.concurrency` as reserved concurrent executions per function: a positive integer, or
 * undefined when unset or empty (none reserved, the default). Anything else is refused: 0 would stop every function
 * and a non-number used to become null.
 */
FunctionAlarms.prototype.reservedConcurrency = function reservedConcurrency() {
  const value = this.serverless.service.custom?.functionGuards?.concurrency;
  if (value === undefined || value === null || String(value).trim() === '') return undefined;
  const text = String(value).trim();
  if (!/^[1-9]\d*$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new this.serverless.classes.Error(
      `functionGuards: concurrency "${value}" must be a positive integer (reserved concurrent executions per function), or empty for none`,
    );
  }
  return Number(text);
};

/** One saved Logs Insights query per entry of `custom.functionGuards.savedQueries`, over every function's log group. */
FunctionAlarms.prototype.addSavedQueries = function addSavedQueries(template, queries) {
  const logGroups = Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Logs::LogGroup')
    .map(([id]) => ({ Ref: id }));
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

/**
 * A lost notification alarms: a function that writes a remediation record with `notification.status = "failed"` (SNS
 * refused the message, or stayed unreachable after the retries) writes a metric line beside it (shared/remediation-log.ts),
 * and one alarm notifies the alert topic. That topic may be what fails: the alarm still shows in CloudWatch (ALARM state).
 */
FunctionAlarms.prototype.addNotificationFailedAlarm = function addNotificationFailedAlarm(template) {
  this.addLogLineAlarm(template, {
    metric: 'NotificationFailed',
    alarmName: 'notification-failed',
    description:
      'a notification could not be published (refused by SNS, or SNS unreachable after retries): the remediation log has the record '
      + '(filter notification.status = "failed"). This alarm notifies the same topic, which may be what fails: watch the alarm state in CloudWatch',
  });
};

/**
 * A rejected live-configuration value alarms (shared/live-config/live-config.ts): every function logs
 * "trailguard config rejected" at ERROR once per parameter version per container, the line carrying its metric, and
 * one alarm notifies the alert topic (besides the one SNS notification it gets).
 */
FunctionAlarms.prototype.addConfigRejectedAlarm = function addConfigRejectedAlarm(template) {
  this.addLogLineAlarm(template, {
    metric: 'ConfigRejected',
    alarmName: 'config-rejected',
    description:
      'a live configuration value in SSM Parameter Store was rejected (its last good version, or the environment, stays in force): '
      + 'the log line "trailguard config rejected" names the parameter (key) and the problem',
  });
};

/**
 * A live configuration that cannot be read alarms (shared/live-config/live-config.ts): a function logs
 * "trailguard config read failed" (at most every 10 s per container, counting the failures in between) while the
 * configuration it read last stays in force (WARN) or, at a cold start or past the stale limit, while its events
 * fail and are retried (ERROR), each line carrying the count of failures since the last; one alarm notifies.
 */
FunctionAlarms.prototype.addConfigReadFailedAlarm = function addConfigReadFailedAlarm(template) {
  this.addLogLineAlarm(template, {
    metric: 'ConfigReadFailed',
    alarmName: 'config-read-failed',
    description:
      'the live configuration in SSM Parameter Store could not be read (throttled, access denied, network): the configuration read last '
      + 'stays in force for up to max(3 x configMaxAgeSeconds, 180 s), then events fail and are retried (then dead-lettered). '
      + 'The log line "trailguard config read failed" names the call (key), the error code and what is in force',
  });
};

/**
 * A log line that alarms: the line carries its metric in embedded metric format (shared/metrics.ts), so CloudWatch
 * Logs counts it into `<service>-<stage>` / `metric` with no metric filter resource, and one alarm `<metric>Alarm`
 * notifies the alert topic.
 */
FunctionAlarms.prototype.addLogLineAlarm = function addLogLineAlarm(template, { metric, alarmName, description }) {
  const namespace = this.namespace();
  template.Resources[`${metric}Alarm`] = anyOverFiveMinutes({
    AlarmName: `${namespace}-${alarmName}`,
    AlarmDescription: description,
    Namespace: namespace,
    MetricName: metric,
  });
};

/** An alarm to the alert topic on any count of the metric within five minutes (no data: not breaching). */
function anyOverFiveMinutes(metric) {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      ...metric,
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

module.exports = FunctionAlarms;
