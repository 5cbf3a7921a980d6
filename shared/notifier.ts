import { PublishCommand } from '@aws-sdk/client-sns';
import { OutcomeUnknownError, publishWhileRefused, snsClient } from './aws/sns.js';
import { classifyAwsError } from './aws/errors.js';
import { AwsCallError } from './errors.js';
import {
  fitNotification,
  jsonForm,
  lastResortNotification,
  publishedBytes,
  shorteningLine,
  shorteningOf,
  SNS_MESSAGE_LIMIT,
  snsAttributesOf,
  snsMessageOf,
  type Detail,
} from './notification-size.js';
import { parseArn } from './events/normalize.js';
import { burstDedupKey, dedupKeyOf } from './notification-key.js';
import type { NotificationStatus, Outcome, RemediationRecord } from './remediation-log.js';
import type { Message } from './rule.js';
import { withoutFormatCharacters } from './safe-text.js';
import { isAccountId } from './aws/names.js';
import { RULE_IDS } from './config.js';
import { consoleLinks, type ConsoleLink } from './console-links.js';
import { controlText, type NamedControl } from './controls.js';

/** The outcomes a person is told about; the rest are in the log only. */
export const NOTIFIED_OUTCOMES: ReadonlySet<Outcome> = new Set(['remediated', 'would-remediate', 'failed', 'alerted', 'reverted']);

/** A ready-to-publish notification: subject, text body, machine JSON and SNS filter attributes. */
export interface Notification {
  readonly subject: string;
  readonly text: string;
  readonly json: string;
  readonly attributes: Readonly<Record<'rule' | 'severity' | 'outcome' | 'account', string>>;
  /** The same for every copy of this notification (shared/notification-key.ts): the `dedupKey` attribute and JSON field. */
  readonly dedupKey: string;
  /** The Security Hub control ids the finding matches: the `controls` attribute (String.Array), absent when none. */
  readonly controls?: readonly string[];
}

/** What the runner knows beyond the record and the rule's message: the controls the finding matches, and who runs trailguard. */
export interface NotificationContext {
  readonly controls?: readonly NamedControl[];
  /** Organisation mode: trailguard's own account; an event from any other is a member account's, whose console the links open. */
  readonly centralAccount?: string;
}

/** Publishes a notification; returns the SNS message id. Injected into the runner. */
export type Notify = (notification: Notification) => Promise<string>;

const SUBJECT_LIMIT = 99; // SNS: under 100 characters
const VALUE_LIMIT = 300;
const ACTION_LINES_LIMIT = 40;
// C0, DEL and C1 controls, and U+2028/U+2029 (line breaks to some mail clients): each becomes a space.
const CONTROLS_AND_LINE_BREAKS = /[\p{Cc}\p{Zl}\p{Zp}]/gu;

/**
 * Makes an event value safe to show: printable, one line, bounded. Event values are attacker-controlled
 * (a session name or user agent can carry newlines or terminal escapes to forge lines in an email, and bidi
 * overrides or zero-width characters to make one line read as another).
 */
export function displayValue(value: string | null | undefined, limit = VALUE_LIMIT): string {
  if (value === null || value === undefined || value === '') return '-';
  const clean = withoutFormatCharacters(value).replace(CONTROLS_AND_LINE_BREAKS, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > limit ? `${clean.slice(0, limit - 3)}...` : clean;
}

// A message line may be a command of many quoted ids (a delete-tags for 100 instances is ~2,300 characters).
const MESSAGE_LINE_LIMIT = 8_000;

/**
 * A message line of the rule's making (a sentence, a command to paste): controls and format characters out, and
 * nothing else changed, so a quoted value stays that value (`'web  prod'` keeps its two spaces, a long command
 * its closing quote). Bounded generously: the notification as a whole is fitted to SNS's limit.
 */
function messageLine(line: string): string {
  const clean = withoutFormatCharacters(line).replace(CONTROLS_AND_LINE_BREAKS, ' ');
  return clean.length > MESSAGE_LINE_LIMIT ? `${clean.slice(0, MESSAGE_LINE_LIMIT - 3)}...` : clean;
}

/** SNS subjects must be ASCII, one line, under 100 characters: keep the tag and the location, shorten the title. */
export function buildSubject(severity: string, title: string, account: string | null, region: string | null): string {
  const ascii = (text: string) => displayValue(text, 1000).replace(/[^\x20-\x7e]/g, '?');
  const prefix = `[${severity}] `;
  const suffix = ` in ${ascii(account ?? 'unknown')}/${ascii(region ?? 'unknown')}`;
  const room = SUBJECT_LIMIT - prefix.length - suffix.length;
  const titleText = ascii(title);
  const fitted = titleText.length <= room ? titleText : `${titleText.slice(0, Math.max(0, room - 3))}...`;
  return `${prefix}${fitted}${suffix}`.slice(0, SUBJECT_LIMIT);
}

function actionLines(record: RemediationRecord, limit: number, chars: number): string[] {
  const lines = record.actions.slice(0, limit).map((action) => {
    const verified = action.verification ? `, ${action.verification.ok ? 'verified' : 'NOT verified'}: ${displayValue(action.verification.detail, chars)}` : '';
    const error = action.error ? ` (${displayValue(action.error, chars)})` : '';
    return `  ${action.api} on ${displayValue(action.resource, chars)}: ${action.status}${verified}${error}`;
  });
  if (record.actions.length > limit) lines.push(`  ... and ${record.actions.length - limit} more (see the log record)`);
  return lines;
}

/**
 * Builds the notification for a record: who did what, when, from where, and what trailguard did. It always
 * fits one SNS message: a record too large for it (a 400-instance launch) is shortened and says so, and the
 * full record stays in the remediation log (shared/notification-size.ts).
 */
export function buildNotification(record: RemediationRecord, message: Message, context: NotificationContext = {}): Notification {
  const severity = record.severity ?? 'LOW';
  const subject = buildSubject(severity, message.title, record.account, record.region);
  const controls = context.controls ?? [];
  return fitNotification(
    (detail) => composeNotification(record, message, subject, detail, context),
    () => ({ ...lastResortNotification(record, subject, severity), ...controlIds(controls) }),
  );
}

const controlIds = (controls: readonly NamedControl[]) => (controls.length > 0 ? { controls: controls.map((control) => control.id) } : {});

/**
 * The console lines: the event and each resource, said to be in the member account in organisation mode (a console
 * session is in one account: the reader signs in to that one first).
 */
function consoleLines(record: RemediationRecord, links: readonly ConsoleLink[], centralAccount: string | undefined): string[] {
  if (links.length === 0) return [];
  const member = centralAccount !== undefined && record.account !== null && record.account !== centralAccount && isAccountId(record.account);
  const heading = member ? `In the AWS console, in account ${record.account} (a member account: sign in to it first):` : 'In the AWS console:';
  return ['', heading, ...links.map((link) => `  ${displayValue(link.label, 120)}: ${link.url}`)];
}

/** The notification with everything (no `detail`), or shortened to `detail`. */
function composeNotification(
  record: RemediationRecord,
  message: Message,
  subject: string,
  detail: Detail | undefined,
  context: NotificationContext,
): Notification {
  const severity = record.severity ?? 'LOW';
  const controls = context.controls ?? [];
  const links = consoleLinks(record);
  const chars = (limit: number) => Math.min(limit, detail?.chars ?? limit);
  const found = detail ? message.lines.slice(0, detail.lines) : message.lines;
  const notShown = message.lines.length - found.length;
  const text = [
    subject,
    '',
    ...(detail ? [shorteningLine(shorteningOf(record, detail)), ''] : []),
    `Outcome: ${record.outcome} (mode ${record.mode}, rule ${record.rule ?? '-'})`,
    `Reason: ${displayValue(record.reason, chars(1000))}`,
    // Fewer lines, never shorter ones: a line may be a command a person pastes.
    ...(found.length > 0 ? ['', 'What was found and done:', ...found.map((line) => `  ${messageLine(line)}`)] : []),
    ...(notShown > 0 ? [`  ... and ${notShown} more lines (see the log record)`] : []),
    ...(record.actions.length > 0
      ? ['', 'Actions:', ...actionLines(record, Math.min(ACTION_LINES_LIMIT, detail?.items ?? ACTION_LINES_LIMIT), chars(VALUE_LIMIT))]
      : []),
    ...(controls.length > 0 ? ['', 'Security Hub controls:', ...controls.map((control) => `  ${controlText(control)}`)] : []),
    ...consoleLines(record, links, context.centralAccount),
    '',
    'Who, when, from where:',
    `  Actor: ${displayValue(record.actor)} (${displayValue(record.actorType)})`,
    `  Call: ${displayValue(record.eventSource)} ${displayValue(record.eventName)} at ${displayValue(record.eventTime)}`,
    `  Source IP: ${displayValue(record.sourceIp)}`,
    `  User agent: ${displayValue(record.userAgent)}`,
    `  Account: ${displayValue(record.account)}, region: ${displayValue(record.region)}`,
    `  Event id: ${displayValue(record.eventId)}`,
    ...(record.error
      ? [
          '',
          `Error: ${record.error.kind} ${displayValue(record.error.code)}${record.error.permission ? ` (needs ${record.error.permission})` : ''}: ${displayValue(record.error.message)}`,
        ]
      : []),
  ].join('\n');
  return {
    subject,
    text,
    json: jsonForm(subject, record, detail, {
      dedupKey: dedupKeyOf(record),
      ...(controls.length > 0 ? { controls } : {}),
      ...(links.length > 0 ? { consoleLinks: links } : {}),
    }),
    dedupKey: dedupKeyOf(record),
    ...controlIds(controls),
    attributes: {
      rule: record.rule ?? 'none',
      severity,
      outcome: record.outcome,
      account: record.account ?? 'unknown',
    },
  };
}

/**
 * Publishes to an SNS topic: text for email/SMS, the JSON form for machine subscribers (SQS, Lambda, HTTP).
 * A failure SNS answered (throttling, its 500/503) or a connection never made is retried inside the call, and in
 * further rounds while the invocation has time; one that may have published unseen (a timeout, a reset, a
 * gateway's 502/504) is not (shared/aws/sns.ts). What remains is thrown, and the runner
 * records it (`notificationFailure`) as `notification.status: failed`, which the NotificationFailed alarm watches.
 */
export function snsNotifier(topicArn: string, endpoint: string | undefined): Notify {
  const region = parseArn(topicArn)?.region ?? 'us-east-1';
  return async (notification) => {
    // The builders fit every notification; one that does not would be refused by SNS after the retries anyway.
    const size = publishedBytes(notification);
    if (size > SNS_MESSAGE_LIMIT) {
      throw new AwsCallError('SNS.Publish', topicArn, 'invalid', 'MessageTooLong', `${size} bytes exceed SNS's ${SNS_MESSAGE_LIMIT}`);
    }
    const client = snsClient({ region, endpoint });
    const publish = new PublishCommand({
      TopicArn: topicArn,
      Subject: notification.subject,
      MessageStructure: 'json',
      Message: snsMessageOf(notification),
      MessageAttributes: snsAttributesOf(notification),
    });
    const result = await publishWhileRefused(() => client.send(publish));
    return result.MessageId ?? 'unknown';
  };
}

/**
 * The record's `notification` for a Publish that threw: `ambiguous: <code>` when it was sent and may have gone
 * out (OutcomeUnknownError: not resent, so a person may or may not have the message), else `<kind>: <code>`.
 */
export function notificationFailure(error: unknown, topic: string): NotificationStatus {
  if (error instanceof OutcomeUnknownError) return { status: 'failed', error: `ambiguous: ${error.code}` };
  const classified = classifyAwsError(error, 'SNS.Publish', topic);
  return { status: 'failed', error: `${classified.kind}: ${classified.code}` };
}

/**
 * The Logs Insights query for a burst's records. Its account and rule come from the event: only a 12-digit
 * account and a known rule id go into the query a person pastes, else that filter is left out.
 */
function burstQuery(record: RemediationRecord): string {
  const rule = record.rule !== null && (RULE_IDS as readonly string[]).includes(record.rule) ? ` and rule = "${record.rule}"` : '';
  const account = record.account !== null && isAccountId(record.account) ? ` and account = "${record.account}"` : '';
  return `filter message = "trailguard remediation"${rule}${account} | sort @timestamp desc`;
}

/** The one message a burst gets instead of its individual notifications past the limit. */
export function buildBurstNotification(
  record: RemediationRecord,
  digest: { readonly maxPerWindow: number; readonly windowMinutes: number },
  /** When the window ends (ISO): from then on this rule's notifications for the account are sent again. */
  windowEnd: string,
): Notification {
  const rule = record.rule ?? 'none';
  const severity = record.severity ?? 'HIGH';
  const account = record.account ?? 'unknown';
  const subject = buildSubject(
    severity,
    `Burst: over ${digest.maxPerWindow} ${rule} notifications in ${digest.windowMinutes} min`,
    record.account,
    record.region,
  );
  const text = [
    subject,
    '',
    `More than ${digest.maxPerWindow} ${rule} decisions worth telling arrived for account ${account} within ${digest.windowMinutes} minutes.`,
    `Each one is still decided, acted on and logged, but not sent until ${windowEnd}: no summary follows, they are in the remediation log. Failed and CRITICAL ones are always sent.`,
    `The one that crossed the limit: ${record.outcome} on ${displayValue(record.resources.map((r) => r.id).join(', '))} by ${displayValue(record.actor)}.`,
    '',
    'See them all in CloudWatch Logs Insights:',
    `  ${burstQuery(record)}`,
  ].join('\n');
  // The text names the record's resources in one bounded line; its JSON form is shortened like any notification's.
  const burst = { rule, maxPerWindow: digest.maxPerWindow, windowMinutes: digest.windowMinutes };
  const attributes = { rule, severity, outcome: record.outcome, account: record.account ?? 'unknown' };
  const dedupKey = burstDedupKey(rule, record.account, windowEnd);
  return fitNotification(
    (detail) => ({ subject, text, json: jsonForm(subject, record, detail, { dedupKey, burst }), dedupKey, attributes }),
    () => lastResortNotification(record, subject, severity, dedupKey),
  );
}
