import { processConfig } from '../config.js';
import { AwsCallError } from '../errors.js';
import { logger } from '../log.js';
import { snsNotifier } from '../notifier.js';
import { writeRecordTo, type RemediationRecord } from '../remediation-log.js';
import type { AnyRule } from '../rule.js';
import { dynamoStateStore } from '../state/dynamo-store.js';
import { deadlineOf, type InvocationContext } from './deadline.js';
import { run, runFinding, type Finding, type RunDeps } from './run.js';

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

/** This invocation's deps: the container's, with the deadline from the Lambda context (none without one). */
function invocationDeps(deps: RunDeps, context: Partial<InvocationContext> | undefined): RunDeps {
  const deadline = deadlineOf(deps.now(), context);
  return deadline === undefined ? deps : { ...deps, deadline };
}

/**
 * The Lambda handler body for a rule. A transient AWS fault is thrown after its record is written, so
 * Lambda and EventBridge retry and, when retries are spent, the event lands in the dead-letter queue.
 * A configuration error is thrown too: the event must wait in the DLQ for a fix, not be decided wrongly.
 * The context's remaining time sets the run's deadline: a run that cannot finish its AWS work in time ends
 * the same way (transient, recorded, claim given back, thrown) before Lambda would kill it without a record.
 */
export function lambdaRunner(rule: AnyRule, depsFor: () => RunDeps = lambdaDeps): (event: unknown, context?: Partial<InvocationContext>) => Promise<RemediationRecord> {
  let deps: RunDeps | undefined;
  return async (event, context) => {
    deps ??= depsFor();
    const record = await run(rule, event, invocationDeps(deps, context));
    if (record.error?.kind === 'transient') {
      throw new AwsCallError(record.error.api ?? 'unknown', record.eventId, 'transient', record.error.code, 'retry');
    }
    return record;
  };
}

/** How a scheduled check's input becomes a run: `read` validates it (throws ParseError), `unreadable` names a bad one. */
export interface ScheduledInputReader {
  read(input: unknown): Finding;
  /** The finding an input that does not parse is recorded as (no facts): its id, and the account and Region it names. */
  unreadable(input: unknown): Finding;
}

// runFinding reads the rule's settings first, inside its catch-all: a rule whose settings throw turns the
// error into the run's one `failed` record, before any claim, read or write.
const failingWith = (rule: AnyRule, error: unknown): AnyRule => ({
  ...rule,
  settings: () => {
    throw error;
  },
});

/**
 * The Lambda handler body for a check that EventBridge Scheduler invokes with its `Input` (trigger `schedule`).
 * An input that does not parse ends in one `failed` record and is not thrown: a retry would read it no
 * better, so throwing would only loop. A transient AWS fault is thrown, as in lambdaRunner, so Lambda retries.
 */
export function lambdaScheduledRunner(rule: AnyRule, reader: ScheduledInputReader, depsFor: () => RunDeps = lambdaDeps): (input: unknown, context?: Partial<InvocationContext>) => Promise<RemediationRecord> {
  let container: RunDeps | undefined;
  return async (input, context) => {
    container ??= depsFor();
    const deps = invocationDeps(container, context);
    let trigger: Finding | undefined;
    let unreadable: unknown;
    try {
      trigger = reader.read(input);
    } catch (error) {
      unreadable = error;
    }
    const record = trigger
      ? await runFinding(rule, trigger, deps)
      : await runFinding(failingWith(rule, unreadable), reader.unreadable(input), deps);
    if (record.error?.kind === 'transient') {
      throw new AwsCallError(record.error.api ?? 'unknown', record.eventId, 'transient', record.error.code, 'retry');
    }
    return record;
  };
}
