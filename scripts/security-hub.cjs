// Serverless plugin: findings in AWS Security Hub (docs/security-hub.md), opt-in with the stage param `securityHub`.
// Off (the default) it changes nothing: no exporter function is built, no subscription, no permission. On:
// - the exporter function (exporters/security-hub/function.yml, resolved by serverless through
//   `custom.securityHub.exporter`) is added to the functions at `initialize`, before serverless-esbuild builds them;
// - every rule function's log group (event, sweep, check) gets a subscription filter on the remediation-log line, with the Lambda
//   permission for CloudWatch Logs scoped to that log group (SourceArn) and this account (SourceAccount);
// - a failure queue (the exporter's on-failure destination) and an alarm on it to the alert topic;
// - the exporter's reserved concurrency (EXPORTER_CONCURRENCY) keeps a burst inside BatchImportFindings' 10 calls/s
//   (and bounds its GetFindings read-backs and BatchUpdateFindings calls the same way).
// The controls and reverse commands a finding names travel on each record (shared/runner/record.ts): the exporter
// needs no setting of its own.

const EXPORTER = 'securityHubExporter';
/** The remediation-log line, as shared/remediation-log.ts writes it (RECORD_MESSAGE). */
const FILTER_PATTERN = '{ $.message = "trailguard remediation" }';
/** Two deliveries at a time: each makes at most a few calls a second, well inside 10 calls/s (burst 30). */
const EXPORTER_CONCURRENCY = 2;

/** `securityHub` as a boolean: true/false (any case), else refused. */
function isOn(value) {
  const text = String(value ?? 'false')
    .trim()
    .toLowerCase();
  if (text === 'true') return true;
  if (text === 'false' || text === '') return false;
  throw new Error(`security-hub: securityHub must be true or false, not "${value}"`);
}

class SecurityHub {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      initialize: () => this.addExporter(),
      'before:package:finalize': () => this.wire(),
    };
  }

  get settings() {
    return this.serverless.service.custom?.securityHub ?? {};
  }

  addExporter() {
    if (!isOn(this.settings.enabled)) return;
    const { service } = this.serverless;
    const definition = this.settings.exporter;
    if (!definition?.handler) throw new Error("security-hub: custom.securityHub.exporter is not the exporter's function definition");
    service.functions[EXPORTER] = {
      ...definition,
      // What osls sets on the functions it loads (Service.setFunctionNames): this one is added after.
      name: `${service.service}-${service.provider.stage}-${EXPORTER}`,
      events: [],
    };
  }

  wire() {
    if (!isOn(this.settings.enabled)) return;
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const naming = this.serverless.getProvider('aws').naming;
    const { service } = this.serverless;
    const exporterId = naming.getLambdaLogicalId(EXPORTER);
    const exporter = template.Resources[exporterId];
    if (exporter?.Type !== 'AWS::Lambda::Function') throw new Error(`security-hub: no exporter function ${exporterId} in the template`);
    // After scripts/function-alarms.cjs, which sets the stage's `concurrency` on every function.
    exporter.Properties.ReservedConcurrentExecutions = EXPORTER_CONCURRENCY;
    const prefix = `${service.service}-${service.provider.stage}`;
    Object.assign(template.Resources, failureQueue(prefix));
    for (const key of service.getAllFunctions()) {
      // Records come from the runner, in the functions of a rule (TRAILGUARD_RULE): a stack job writes none.
      if (key === EXPORTER || typeof service.getFunction(key).environment?.TRAILGUARD_RULE !== 'string') continue;
      const logGroupId = naming.getLogGroupLogicalId(key);
      if (template.Resources[logGroupId]?.Type !== 'AWS::Logs::LogGroup') throw new Error(`security-hub: no log group ${logGroupId} for function ${key}`);
      const base = logGroupId.replace(/LogGroup$/, '');
      template.Resources[`${base}SecurityHubPermission`] = {
        Type: 'AWS::Lambda::Permission',
        Properties: {
          Action: 'lambda:InvokeFunction',
          FunctionName: { 'Fn::GetAtt': [exporterId, 'Arn'] },
          Principal: 'logs.amazonaws.com',
          SourceAccount: { Ref: 'AWS::AccountId' },
          SourceArn: { 'Fn::GetAtt': [logGroupId, 'Arn'] },
        },
      };
      template.Resources[`${base}SecurityHubSubscription`] = {
        Type: 'AWS::Logs::SubscriptionFilter',
        // CloudWatch Logs tests the destination when the filter is created: the permission must exist first.
        DependsOn: [`${base}SecurityHubPermission`],
        Properties: {
          LogGroupName: { Ref: logGroupId },
          FilterPattern: FILTER_PATTERN,
          DestinationArn: { 'Fn::GetAtt': [exporterId, 'Arn'] },
        },
      };
    }
  }
}

/** The exporter's on-failure queue (encrypted with the stack's key, retained 14 days) and its alarm to the alert topic. */
function failureQueue(prefix) {
  return {
    SecurityHubFailureQueue: {
      Type: 'AWS::SQS::Queue',
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: { QueueName: `${prefix}-security-hub-failures`, MessageRetentionPeriod: 1209600, KmsMasterKeyId: { Ref: 'AlertTopicKey' } },
    },
    SecurityHubFailureQueueAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${prefix}-security-hub-export-failed`,
        AlarmDescription:
          'Remediation records that could not be imported into Security Hub after every retry wait in the failure queue (docs/security-hub.md, "When an import fails").',
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['SecurityHubFailureQueue', 'QueueName'] } }],
        Statistic: 'Maximum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: 'AlertTopic' }],
        OKActions: [{ Ref: 'AlertTopic' }],
      },
    },
  };
}

module.exports = SecurityHub;
module.exports.FILTER_PATTERN = FILTER_PATTERN;
module.exports.EXPORTER = EXPORTER;
