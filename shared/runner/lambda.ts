import { type Config, processConfig, processRuleOverrides, type RuleId } from '../config.js';
import { AwsCallError } from '../errors.js';
import { parseArn } from '../events/normalize.js';
import { liveConfigSource, type LiveConfigSource } from '../live-config/live-config.js';
import { rejectionNotifier } from '../live-config/rejection.js';
import { ssmReader } from '../live-config/ssm-reader.js';
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

/** This invocation's deps: the container's, with the deadline and request id from the Lambda context (none without one). */
function invocationDeps(deps: RunDeps, context: Partial<InvocationContext> | undefined): RunDeps {
  const deadline = deadlineOf(deps.now(), context);
  const invocationId = typeof context?.awsRequestId === 'string' && context.awsRequestId !== '' ? context.awsRequestId : undefined;
  return {
    ...deps,
    ...(deadline === undefined ? {} : { deadline }),
    ...(invocationId === undefined ? {} : { invocationId }),
  };
}

/**
 * A container's live configuration for a rule (shared/live-config), when the config names a parameter prefix;
 * undefined without one (env only). Rejected values are notified through the container's topic, once (rejection.ts).
 */
export function liveConfigOf(rule: RuleId, deps: RunDeps): LiveConfigSource | undefined {
  const config = deps.config;
  if (config.parameterPrefix === undefined) return undefined;
  const region = config.region ?? 'us-east-1';
  const notify = deps.notify;
  return liveConfigSource(config, rule, {
    reader: ssmReader({ region, endpoint: config.endpoint }),
    logger,
    ruleOverrides: processRuleOverrides(),
    ...(notify
      ? {
          notifyRejection: rejectionNotifier({
            notify,
            store: deps.store,
            now: deps.now,
            rule,
            region,
            account: (config.topicArn ? parseArn(config.topicArn)?.account : undefined) ?? null,
          }),
        }
      : {}),
  });
}

/** What the invocation runs with: the deps with this read's live config, or why it could not be read (transient). */
type Resolved = { readonly deps: RunDeps } | { readonly unreadable: unknown };

/** The invocation's config: the live one when there is a source (cached per container), else the container's. */
async function resolveConfig(deps: RunDeps, live: LiveConfigSource | undefined): Promise<Resolved> {
  if (!live) return { deps };
  try {
    const config: Config = await live.read(deps.now(), deps.deadline);
    return { deps: { ...deps, config } };
  } catch (error) {
    return { unreadable: error };
  }
}

/** The container's deps and live configuration, made on first use. */
interface Container {
  readonly deps: RunDeps;
  readonly live: LiveConfigSource | undefined;
}

const containerOf = (rule: AnyRule, depsFor: () => RunDeps): Container => {
  const deps = depsFor();
  return { deps, live: liveConfigOf(rule.id, deps) };
};

/**
 * The Lambda handler body for a rule. A transient AWS fault is thrown after its record is written, so
 * Lambda and EventBridge retry and, when retries are spent, the event lands in the dead-letter queue.
 * A configuration error is thrown too: the event must wait in the DLQ for a fix, not be decided wrongly.
 * The context's remaining time sets the run's deadline: a run that cannot finish its AWS work in time ends
 * the same way (transient, recorded, claim given back, thrown) before Lambda would kill it without a record.
 */
export function lambdaRunner(
  rule: AnyRule,
  depsFor: () => RunDeps = lambdaDeps,
): (event: unknown, context?: Partial<InvocationContext>) => Promise<RemediationRecord> {
  let container: Container | undefined;
  return async (event, context) => {
    container ??= containerOf(rule, depsFor);
    const invocation = invocationDeps(container.deps, context);
    const resolved = await resolveConfig(invocation, container.live);
    // An unreadable live configuration ends as a transient `failed` record by the route any transient fault takes.
    const record = 'deps' in resolved ? await run(rule, event, resolved.deps) : await run(failingWith(rule, resolved.unreadable), event, invocation);
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
export function lambdaScheduledRunner(
  rule: AnyRule,
  reader: ScheduledInputReader,
  depsFor: () => RunDeps = lambdaDeps,
): (input: unknown, context?: Partial<InvocationContext>) => Promise<RemediationRecord> {
  let container: Container | undefined;
  return async (input, context) => {
    container ??= containerOf(rule, depsFor);
    const invocation = invocationDeps(container.deps, context);
    let trigger: Finding | undefined;
    let unreadable: unknown;
    try {
      trigger = reader.read(input);
    } catch (error) {
      unreadable = error;
    }
    const resolved = await resolveConfig(invocation, container.live);
    // An unreadable live configuration is a transient failure of the check's finding (or of the bad input's): retried.
    const record = !('deps' in resolved)
      ? await runFinding(failingWith(rule, resolved.unreadable), trigger ?? reader.unreadable(input), invocation)
      : trigger
        ? await runFinding(rule, trigger, resolved.deps)
        : await runFinding(failingWith(rule, unreadable), reader.unreadable(input), resolved.deps);
    if (record.error?.kind === 'transient') {
      throw new AwsCallError(record.error.api ?? 'unknown', record.eventId, 'transient', record.error.code, 'retry');
    }
    return record;
  };
}
