import { PublishCommand } from '@aws-sdk/client-sns';
import { snsClient } from './aws/sns.js';
import { parseArn } from './events/normalize.js';
import type { Outcome, RemediationRecord } from './remediation-log.js';
import type { Message } from './rule.js';

/** The outcomes a person is told about; the rest are in the log only. */
export const NOTIFIED_OUTCOMES: ReadonlySet<Outcome> = new Set(['remediated', 'would-remediate', 'failed', 'alerted']);

/** A ready-to-publish notification: subject, text body, machine JSON and SNS filter attributes. */
export interface Notification {
  readonly subject: string;
  readonly text: string;
  readonly json: string;
  readonly attributes: Readonly<Record<'rule' | 'severity' | 'outcome' | 'account', string>>;
}

/** Publishes a notification; returns the SNS message id. Injected into the runner. */
export type Notify = (notification: Notification) => Promise<string>;

const SUBJECT_LIMIT = 99; // SNS: under 100 characters
const VALUE_LIMIT = 300;
const ACTION_LINES_LIMIT = 40;

/**
 * Makes an event value safe to show: printable, one line, bounded. Event values are attacker-controlled
 * (a session name or user agent can carry newlines or terminal escapes to forge lines in an email).
 */
export function displayValue(value: string | null | undefined, limit = VALUE_LIMIT): string {
  if (value === null || value === undefined || value === '') return '-';
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > limit ? `${clean.slice(0, limit - 3)}...` : clean;
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

function actionLines(record: RemediationRecord): string[] {
  const lines = record.actions.slice(0, ACTION_LINES_LIMIT).map((action) => {
    const verified = action.verification
      ? `, ${action.verification.ok ? 'verified' : 'NOT verified'}: ${displayValue(action.verification.detail)}`
      : '';
    const error = action.error ? ` (${displayValue(action.error)})` : '';
    return `  ${action.api} on ${displayValue(action.resource)}: ${action.status}${verified}${error}`;
  });
  if (record.actions.length > ACTION_LINES_LIMIT) lines.push(`  ... and ${record.actions.length - ACTION_LINES_LIMIT} more (see the log record)`);
  return lines;
}

/** Builds the notification for a record: who did what, when, from where, and what trailguard did. */
export function buildNotification(record: RemediationRecord, message: Message): Notification {
  const severity = record.severity ?? 'LOW';
  const subject = buildSubject(severity, message.title, record.account, record.region);
  const text = [
    subject,
    '',
    `Outcome: ${record.outcome} (mode ${record.mode}, rule ${record.rule ?? '-'})`,
    `Reason: ${displayValue(record.reason, 1000)}`,
    ...(message.lines.length > 0 ? ['', 'What was found and done:', ...message.lines.map((line) => `  ${displayValue(line, 1000)}`)] : []),
    ...(record.actions.length > 0 ? ['', 'Actions:', ...actionLines(record)] : []),
    '',
    'Who, when, from where:',
    `  Actor: ${displayValue(record.actor)} (${displayValue(record.actorType)})`,
    `  Call: ${displayValue(record.eventSource)} ${displayValue(record.eventName)} at ${displayValue(record.eventTime)}`,
    `  Source IP: ${displayValue(record.sourceIp)}`,
    `  User agent: ${displayValue(record.userAgent)}`,
    `  Account: ${displayValue(record.account)}, region: ${displayValue(record.region)}`,
    `  Event id: ${displayValue(record.eventId)}`,
    ...(record.error ? ['', `Error: ${record.error.kind} ${displayValue(record.error.code)}${record.error.permission ? ` (needs ${record.error.permission})` : ''}: ${displayValue(record.error.message)}`] : []),
  ].join('\n');
  return {
    subject,
    text,
    json: JSON.stringify({ subject, record }),
    attributes: {
      rule: record.rule ?? 'none',
      severity,
      outcome: record.outcome,
      account: record.account ?? 'unknown',
    },
  };
}

/** Publishes to an SNS topic: text for email/SMS, the JSON form for machine subscribers (SQS, Lambda, HTTP). */
export function snsNotifier(topicArn: string, endpoint: string | undefined): Notify {
  const region = parseArn(topicArn)?.region ?? 'us-east-1';
  return async (notification) => {
    const client = snsClient({ region, endpoint });
    const result = await client.send(
      new PublishCommand({
        TopicArn: topicArn,
        Subject: notification.subject,
        MessageStructure: 'json',
        Message: JSON.stringify({
          default: notification.text,
          email: notification.text,
          sqs: notification.json,
          lambda: notification.json,
          http: notification.json,
          https: notification.json,
          'email-json': notification.json,
        }),
        MessageAttributes: Object.fromEntries(
          Object.entries(notification.attributes).map(([name, value]) => [name, { DataType: 'String', StringValue: value }]),
        ),
      }),
    );
    return result.MessageId ?? 'unknown';
  };
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
  const subject = buildSubject(severity, `Burst: over ${digest.maxPerWindow} ${rule} notifications in ${digest.windowMinutes} min`, record.account, record.region);
  const text = [
    subject,
    '',
    `More than ${digest.maxPerWindow} ${rule} decisions worth telling arrived for account ${account} within ${digest.windowMinutes} minutes.`,
    `Each one is still decided, acted on and logged, but not sent until ${windowEnd}: no summary follows, they are in the remediation log. Failed and CRITICAL ones are always sent.`,
    `The one that crossed the limit: ${record.outcome} on ${displayValue(record.resources.map((r) => r.id).join(', '))} by ${displayValue(record.actor)}.`,
    '',
    'See them all in CloudWatch Logs Insights:',
    `  filter message = "trailguard remediation" and rule = "${rule}" and account = "${account}" | sort @timestamp desc`,
  ].join('\n');
  return {
    subject,
    text,
    json: JSON.stringify({ subject, burst: { rule, maxPerWindow: digest.maxPerWindow, windowMinutes: digest.windowMinutes }, record }),
    attributes: { rule, severity, outcome: record.outcome, account: record.account ?? 'unknown' },
  };
}
