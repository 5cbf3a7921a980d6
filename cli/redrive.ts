import { ChangeMessageVisibilityBatchCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { CHECKS, RULES, type ScheduledCheck } from '../functions/rules.js';
import { baseClientConfig } from '../shared/aws/client-options.js';
import { errorCodeOf } from '../shared/aws/errors.js';
import { type Config, type Mode, type RuleId, ruleOverridesOf } from '../shared/config.js';
import { consoleOut } from '../shared/log.js';
import type { RemediationRecord } from '../shared/remediation-log.js';
import { runFinding, type RunDeps } from '../shared/runner/run.js';
import { dynamoStateStore } from '../shared/state/dynamo-store.js';
import { RecordPrinter, terminalSafe, type Format } from './output.js';
import { loadRunConfig } from './live-store.js';
import { cliNotification } from './publishing.js';
import { EXIT, outputTerminal, routeEvent } from './replay.js';
import { count, type Terminal } from './terminal.js';

export interface RedriveOptions {
  readonly queueUrl: string;
  readonly mode: Mode;
  readonly format: Format;
  readonly max: number;
  readonly config: Config;
  readonly out?: (text: string) => void;
  /** Where text output goes. @default the terminal of standard output (or `out`) */
  readonly terminal?: Terminal;
  /** `--all`: text output lists messages whose event no rule's pattern matches too. */
  readonly all?: boolean;
  readonly err?: (text: string) => void;
  /** `--notify`: a dry-run redrive publishes only with it; a live one always does (see cliNotification). */
  readonly notify?: boolean;
  /** The rules `config` overrides in the live configuration (cli/live-store.ts). @default TRAILGUARD_RULES' */
  readonly ruleOverrides?: readonly RuleId[];
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
  const region = options.config.region ?? queueRegion(options.queueUrl);
  // Before any message is read: a live redrive without the store's exemptions would act on exempt resources.
  const { config } = await loadRunConfig({
    config: options.config,
    mode: options.mode,
    ruleOverrides: options.ruleOverrides ?? ruleOverridesOf(process.env),
    err,
    region,
  });
  const sqs = new SQSClient(baseClientConfig({ region, endpoint: config.endpoint, readOnly: false }));
  const printer = new RecordPrinter(options.format, outputTerminal(options, process.env), { all: options.all === true, unit: 'message' });
  const deps: RunDeps = {
    config,
    mode: options.mode,
    ...cliNotification('redrive', options.mode, config, options.notify === true),
    write: () => undefined,
    now: Date.now,
    // Live only, like replay: a dry-run that claimed its events would make the live redrive after it (or the
    // functions' own retry) skip them as already handled.
    ...(options.mode === 'live' && config.stateTable ? { store: dynamoStateStore(config.stateTable, region, config.endpoint) } : {}),
  };
  let exit: number = EXIT.ok;
  // Every message read and not deleted, by id (its latest receipt handle): made visible again at the end.
  const kept = new Map<string, string>();
  const handled = new Set<string>();
  let deleted = 0;
  let released = 0;
  try {
    while (handled.size < options.max) {
      const batch = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: options.queueUrl,
          MaxNumberOfMessages: Math.min(10, options.max - handled.size),
          WaitTimeSeconds: 1,
          VisibilityTimeout: 120,
        }),
      );
      const messages: Message[] = batch.Messages ?? [];
      // A message seen before came back (a long run outlasted its invisibility): it is not run twice.
      const fresh = messages.filter((message) => !handled.has(message.MessageId ?? ''));
      for (const message of messages)
        if (message.MessageId && message.ReceiptHandle && kept.has(message.MessageId)) kept.set(message.MessageId, message.ReceiptHandle);
      // Only an empty answer ends the run: a batch of messages seen before says nothing of the ones not read yet
      // (receiving hid these again, so the next receive returns others, or nothing).
      if (messages.length === 0) break;
      for (const message of fresh) {
        const id = message.MessageId ?? `#${handled.size + 1}`;
        handled.add(id);
        if (
          await redriveMessage(message, options, deps, printer, err, (code) => {
            if (exit === EXIT.ok || code === EXIT.badInput) exit = code;
          })
        ) {
          await sqs.send(new DeleteMessageCommand({ QueueUrl: options.queueUrl, ReceiptHandle: message.ReceiptHandle }));
          deleted += 1;
        } else if (message.ReceiptHandle) {
          kept.set(id, message.ReceiptHandle);
        }
      }
    }
  } finally {
    // Whatever ended the run (an error included), what it read and kept is visible again at once, not in 2 minutes.
    released = await releaseMessages(sqs, options.queueUrl, kept, err);
  }
  printer.finish();
  const seen = handled.size;
  err(
    `trailguard: redrive read ${count(seen, 'message')}, deleted ${deleted}, left ${seen - deleted} in the queue`
      + `${kept.size > 0 ? ` (${released === kept.size ? 'visible again now' : `${released} visible again now, the rest after 2 minutes`})` : ''}\n`,
  );
  return exit;
}

/** Runs one message's event through the rules; true when it reached a final outcome and may be deleted. */
async function redriveMessage(
  message: Message,
  options: RedriveOptions,
  deps: RunDeps,
  printer: RecordPrinter,
  err: (text: string) => void,
  setExit: (code: number) => void,
): Promise<boolean> {
  const found = eventOfMessage(message.Body);
  if ('problem' in found) {
    err(`trailguard: message ${message.MessageId}: ${found.problem}; left in the queue\n`);
    setExit(EXIT.badInput);
    return false;
  }
  const records = await recordsFor(found.event, deps);
  printer.printEvent(records, `message ${message.MessageId}`);
  if (records.some((r) => r.outcome === 'failed')) setExit(EXIT.remediationFailed);
  // A dead letter is the last copy of its event: it is deleted only once a rule reached a final outcome.
  // Offline and dry-run only report; a transient failure is retried; a message no rule can read, or that
  // no rule's pattern matches, stays for a person to look at.
  const unreadable = records.some((r) => r.error?.kind === 'parse') || records.every((r) => r.rule === null);
  if (unreadable) err(`trailguard: message ${message.MessageId}: no rule could read its event; left in the queue\n`);
  return options.mode === 'live' && !unreadable && records.every((r) => r.error?.kind !== 'transient');
}

/**
 * Makes every message this run kept visible again at once (visibility timeout 0): a dry-run only looked, and a
 * live redrive right after it must find them, not wait out the 2 minutes they were hidden for. Returns how many.
 */
async function releaseMessages(sqs: SQSClient, queueUrl: string, kept: ReadonlyMap<string, string>, err: (text: string) => void): Promise<number> {
  const entries = [...kept.values()].map((handle, index) => ({ Id: String(index), ReceiptHandle: handle, VisibilityTimeout: 0 }));
  let released = 0;
  for (let start = 0; start < entries.length; start += 10) {
    const chunk = entries.slice(start, start + 10);
    try {
      const answer = await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: chunk }));
      released += answer.Successful?.length ?? 0;
      for (const failure of answer.Failed ?? []) err(`trailguard: could not make a message visible again (${failure.Code}): it reappears after 2 minutes\n`);
    } catch (error) {
      err(`trailguard: ChangeMessageVisibilityBatch failed (${errorCodeOf(error)}): ${count(chunk.length, 'message')} reappear after 2 minutes\n`);
    }
  }
  return released;
}
