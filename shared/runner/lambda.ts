import { processConfig } from '../config.js';
import { AwsCallError } from '../errors.js';
import { logger } from '../log.js';
import { snsNotifier } from '../notifier.js';
import { writeRecordTo, type RemediationRecord } from '../remediation-log.js';
import type { AnyRule } from '../rule.js';
import { dynamoStateStore } from '../state/dynamo-store.js';
import { run, type RunDeps } from './run.js';

/** The deps of a Lambda container: config from the environment (parsed once), SNS, the log on stdout. */
export function lambdaDeps(): RunDeps {
  const config = processConfig();
  logger.setLevel(config.logLevel);
  return {
    config,
    mode: config.mode,
    notify: config.topicArn ? snsNotifier(config.topicArn, config.endpoint) : undefined,
    write: writeRecordTo(logger),
    now: Date.now,
    ...(config.stateTable ? { store: dynamoStateStore(config.stateTable, config.region ?? 'us-east-1', config.endpoint) } : {}),
  };
}

/**
 * The Lambda handler body for a rule. A transient AWS fault is thrown after its record is written, so
 * Lambda and EventBridge retry and, when retries are spent, the event lands in the dead-letter queue.
 * A configuration error is thrown too: the event must wait in the DLQ for a fix, not be decided wrongly.
 */
export function lambdaRunner(rule: AnyRule, depsFor: () => RunDeps = lambdaDeps): (event: unknown) => Promise<RemediationRecord> {
  let deps: RunDeps | undefined;
  return async (event) => {
    deps ??= depsFor();
    const record = await run(rule, event, deps);
    if (record.error?.kind === 'transient') {
      throw new AwsCallError(record.error.api ?? 'unknown', record.eventId, 'transient', record.error.code, 'retry');
    }
    return record;
  };
}
