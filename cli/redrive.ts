import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { CHECKS, RULES, type ScheduledCheck } from '../functions/rules.js';
import { baseClientConfig } from '../shared/aws/client-options.js';
import type { Config, Mode } from '../shared/config.js';
import { consoleOut } from '../shared/log.js';
import type { RemediationRecord } from '../shared/remediation-log.js';
import { runFinding, type RunDeps } from '../shared/runner/run.js';
import { dynamoStateStore } from '../shared/state/dynamo-store.js';
import { RecordPrinter, terminalSafe, type Format } from './output.js';
import { cliNotification } from './publishing.js';
import { EXIT, routeEvent } from './replay.js';

export interface RedriveOptions {
  readonly queueUrl: string;
  readonly mode: Mode;
  readonly format: Format;
  readonly max: number;
  readonly config: Config;
  readonly out?: (text: string) => void;
  readonly err?: (text: string) => void;
  /** `--notify`: a dry-run redrive publishes only with it; a live one always does (see cliNotification). */
  readonly notify?: boolean;
}

/**
 * The event inside a dead-letter message: EventBridge puts the event itself in the body; Lambda's
 * on-failure destination puts an invocation record whose `requestPayload` is the event.
 */
export function eventOfMessage(body: string | undefined): { event: unknown } | { problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body ?? '');
  } catch {
    return { problem: 'the body is not JSON' };
  }
  if (parsed && typeof parsed === 'object' && 'requestPayload' in parsed) return { event: (parsed as { requestPayload: unknown }).requestPayload };
  if (parsed && typeof parsed === 'object' && 'detail-type' in parsed) return { event: parsed };
  return { problem: 'neither an EventBridge event nor a Lambda invocation record' };
}

/**
 * A scheduled check's dead letters hold its Scheduler input, not an event (the untagged-instance enforcement):
 * they go back through the check that reads them (as Scheduler would invoke it), never through the rules' patterns.
 */
async function recordsFor(payload: unknown, deps: RunDeps): Promise<RemediationRecord[]> {
  for (const check of CHECKS) {
    const trigger = readWith(check, payload);
    if (trigger) return [await runFinding(check.rule, trigger, deps)];
  }
  return routeEvent(RULES, payload, deps);
}

/** The check's trigger from a payload, or undefined when the payload is not its input. */
function readWith(check: ScheduledCheck, payload: unknown): ReturnType<ScheduledCheck['read']> | undefined {
  try {
    return check.read(payload);
  } catch {
    return undefined;
  }
}

function queueRegion(queueUrl: string): string {
  return /sqs[.-]([a-z0-9-]+)\.amazonaws/.exec(queueUrl)?.[1] ?? process.env.AWS_REGION ?? 'us-east-1';
}

/**
 * `trailguard redrive`: takes the dead-letter queue's events through the rules again, once the cause is
 * fixed. A message is deleted only when its event reached a final outcome (a transient failure stays for the
 * next redrive); duplicates of events that were in fact handled are recognised by the state table.
 */
export async function redrive(options: RedriveOptions): Promise<number> {
  const err = terminalSafe(options.err ?? consoleOut.stderr);
  const { config } = options;
  const region = config.region ?? queueRegion(options.queueUrl);
  const sqs = new SQSClient(baseClientConfig({ region, endpoint: config.endpoint, readOnly: false }));
  const printer = new RecordPrinter(options.format, options.out);
  const deps: RunDeps = {
    config,
    mode: options.mode,
    ...cliNotification('redrive', options.mode, config, options.notify === true),
    write: () => undefined,
    now: Date.now,
    ...(config.stateTable ? { store: dynamoStateStore(config.stateTable, region, config.endpoint) } : {}),
  };
  let exit: number = EXIT.ok;
  let seen = 0;
  let deleted = 0;
  while (seen < options.max) {
    const batch = await sqs.send(new ReceiveMessageCommand({
      QueueUrl: options.queueUrl, MaxNumberOfMessages: Math.min(10, options.max - seen), WaitTimeSeconds: 1, VisibilityTimeout: 120,
    }));
    const messages: Message[] = batch.Messages ?? [];
    if (messages.length === 0) break;
    for (const message of messages) {
      seen += 1;
      const found = eventOfMessage(message.Body);
      if ('problem' in found) {
        err(`trailguard: message ${message.MessageId}: ${found.problem}; left in the queue\n`);
        exit = EXIT.badInput;
        continue;
      }
      const records = await recordsFor(found.event, deps);
      for (const record of records) printer.print(record, `message ${message.MessageId}`);
      if (records.some((r) => r.outcome === 'failed') && exit === EXIT.ok) exit = EXIT.remediationFailed;
      // A dead letter is the last copy of its event: it is deleted only once a rule reached a final outcome.
      // Offline and dry-run only report; a transient failure is retried; a message no rule can read, or that
      // no rule's pattern matches, stays for a person to look at.
      const unreadable = records.some((r) => r.error?.kind === 'parse') || records.every((r) => r.rule === null);
      if (unreadable) err(`trailguard: message ${message.MessageId}: no rule could read its event; left in the queue\n`);
      const final = options.mode === 'live' && !unreadable && records.every((r) => r.error?.kind !== 'transient');
      if (final) {
        await sqs.send(new DeleteMessageCommand({ QueueUrl: options.queueUrl, ReceiptHandle: message.ReceiptHandle }));
        deleted += 1;
      }
    }
  }
  printer.finish();
  err(`trailguard: redrive read ${seen} messages, deleted ${deleted}, left ${seen - deleted} in the queue\n`);
  return exit;
}
