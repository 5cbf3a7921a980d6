import type { MessageAttributeValue } from '@aws-sdk/client-sns';
import type { Notification } from './notifier.js';
import { dedupKeyOf } from './notification-key.js';
import type { ActionRecord, RemediationRecord } from './remediation-log.js';
import { terminalText } from './safe-text.js';

/**
 * SNS's limit on one published message, in UTF-8 bytes: the whole `Message` (with MessageStructure json: the
 * envelope and every protocol's copy) plus the message attributes, which count toward it. Past it, Publish fails
 * with InvalidParameter "Message too long" and the notification is lost.
 */
export const SNS_MESSAGE_LIMIT = 262_144;

/**
 * How much of a long record a notification shows: at most `items` entries of each list (resources, actions,
 * exemptions), strings cut to `chars`, at most `lines` of the rule's message; actions never carry `params` or
 * `previous` (the SDK input and the replaced state: the bulk of a large record).
 */
export interface Detail {
  readonly items: number;
  readonly chars: number;
  readonly lines: number;
}

/**
 * The shortenings tried in turn when the full notification is too large: first only the write parameters go,
 * then the lists are cut further and further. The last one usually fits; `lastResortNotification` always does.
 */
export const SHORTENINGS: readonly Detail[] = [
  { items: Number.POSITIVE_INFINITY, chars: 2_000, lines: 100 },
  { items: 100, chars: 1_000, lines: 40 },
  { items: 20, chars: 300, lines: 10 },
  { items: 3, chars: 100, lines: 3 },
];

/** The SNS `Message` for MessageStructure json: text for email and the default, the JSON form for machines. */
export function snsMessageOf(notification: Notification): string {
  // SNS's format gives each protocol its own copy: the JSON form is paid for five times.
  return JSON.stringify({
    default: notification.text,
    email: notification.text,
    sqs: notification.json,
    lambda: notification.json,
    http: notification.json,
    https: notification.json,
    'email-json': notification.json,
  });
}

/**
 * The notification's filter attributes and its `dedupKey` as SNS message attributes (strings), and its Security Hub
 * control ids as a String.Array `controls` (a subscription filter policy matches any one of them), when it has any.
 */
export function snsAttributesOf(notification: Notification): Record<string, MessageAttributeValue> {
  const attributes = { ...notification.attributes, dedupKey: notification.dedupKey };
  const strings = Object.entries(attributes).map(([name, value]): [string, MessageAttributeValue] => [name, { DataType: 'String', StringValue: value }]);
  const controls =
    notification.controls && notification.controls.length > 0
      ? [['controls', { DataType: 'String.Array', StringValue: JSON.stringify(notification.controls) }] as [string, MessageAttributeValue]]
      : [];
  return Object.fromEntries([...strings, ...controls]);
}

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

/** What SNS counts against SNS_MESSAGE_LIMIT: the Message and each attribute's name, type and value (the Subject too, to be safe). */
export function publishedBytes(notification: Notification): number {
  const attributes = Object.entries(snsAttributesOf(notification)).reduce(
    (sum, [name, value]) => sum + bytes(name) + bytes(value.DataType ?? '') + bytes(value.StringValue ?? ''),
    0,
  );
  return bytes(snsMessageOf(notification)) + attributes + bytes(notification.subject);
}

/** A list's size in a shortened notification: how many entries it shows of how many. */
export interface ListCount {
  readonly shown: number;
  readonly total: number;
}

/** What a shortened notification says it left out, and where the full record is: the JSON form's `shortened`. */
export interface Shortening {
  readonly reason: string;
  readonly eventId: string;
  /** A Logs Insights query that finds the full record (the event id only when it is a plain id). */
  readonly query: string;
  readonly resources: ListCount;
  readonly actions: ListCount;
  readonly exemptions: ListCount;
  /** Always true: the actions' `params` and `previous` are in the log only. */
  readonly paramsOmitted: true;
}

// CloudTrail and EventBridge ids are UUIDs; the enforcement check's are schedule names. Anything else (an
// attacker's id) stays out of a query a person pastes.
const PLAIN_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** The Logs Insights query for one record: by event id when it is a plain id, else the rule's failures and alerts. */
export function recordQuery(record: RemediationRecord): string {
  const byId = PLAIN_ID.test(record.eventId) ? ` and eventId = "${record.eventId}"` : '';
  return `filter message = "trailguard remediation"${byId} | sort @timestamp desc`;
}

/** Counts and the way to the full record, for a notification shortened to `detail`. */
export function shorteningOf(record: RemediationRecord, detail: Detail): Shortening {
  const count = (list: readonly unknown[]): ListCount => ({ shown: Math.min(list.length, detail.items), total: list.length });
  return {
    reason: `the full record is too large for one SNS message (${SNS_MESSAGE_LIMIT} bytes): lists and long values are cut, write parameters left out; the remediation log has it all`,
    eventId: cut(record.eventId, 200),
    query: recordQuery(record),
    resources: count(record.resources),
    actions: count(record.actions),
    exemptions: count(record.exemptions),
    paramsOmitted: true,
  };
}

/** One line for the text form: what was left out and how to find the full record. */
export function shorteningLine(shortening: Shortening): string {
  const lists = (['resources', 'actions', 'exemptions'] as const)
    .filter((name) => shortening[name].total > 0)
    .map((name) => `${shortening[name].shown} of ${shortening[name].total} ${name}`);
  return `Shortened to fit one SNS message${lists.length > 0 ? ` (showing ${lists.join(', ')})` : ''}; the full record is in the remediation log (CloudWatch Logs Insights: ${shortening.query}).`;
}

const cut = (text: string, chars: number) => (text.length > chars ? `${text.slice(0, Math.max(0, chars - 3))}...` : text);

/** Every string in a JSON value cut to `chars`, every array to `items` entries. */
function cutJson(value: unknown, detail: Detail): unknown {
  if (typeof value === 'string') return cut(value, detail.chars);
  if (Array.isArray(value)) return value.slice(0, detail.items).map((item) => cutJson(item, detail));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, cutJson(item, detail)]));
  return value;
}

/**
 * The record as a notification tells it: without `notification` and `durationMs`, which are settled only after it is
 * sent (the log record has them). A notification carries no placeholder for what is not known yet.
 */
export function toldRecord(record: RemediationRecord): Omit<RemediationRecord, 'notification' | 'durationMs'> {
  const { notification: _notification, durationMs: _durationMs, ...told } = record;
  return told;
}

/** The record as a shortened notification shows it: no write parameters, lists and strings cut to `detail`. */
export function shortenedRecord(record: RemediationRecord, detail: Detail): unknown {
  const actions = record.actions.map(({ params: _params, previous: _previous, ...rest }: ActionRecord) => rest);
  return cutJson({ ...toldRecord(record), actions }, detail);
}

/**
 * The JSON form of a notification: `{ subject, …extra, record }` (extra: its `dedupKey`, a burst's `burst`), with
 * the record in full (no `detail`) or shortened to `detail` and then a `shortened` object saying so.
 */
export function jsonForm(subject: string, record: RemediationRecord, detail: Detail | undefined, extra: Readonly<Record<string, unknown>> = {}): string {
  const json = detail
    ? JSON.stringify({ subject, ...extra, record: shortenedRecord(record, detail), shortened: shorteningOf(record, detail) })
    : JSON.stringify({ subject, ...extra, record: toldRecord(record) });
  // `email-json` is read in a mail client: C1, bidi and zero-width characters in event values become `\uXXXX`
  // escapes (JSON.stringify escapes only C0), so they cannot reorder or hide text; the parsed values are the same.
  return terminalText(json);
}

// In the last resort each value is printable ASCII and at most this long: its size is bounded whatever the event.
const LAST_RESORT_CHARS = 64;
const plain = (value: string | null | undefined) => cut((value ?? '-').replace(/[^\x20-\x7e]/g, '?'), LAST_RESORT_CHARS);

/**
 * The notification that always fits: the subject, the outcome, rule, account, region, event and counts, each a
 * short printable ASCII value, and the way to the full record. A few KB whatever the record holds.
 */
export function lastResortNotification(record: RemediationRecord, subject: string, severity: string, dedupKey = dedupKeyOf(record)): Notification {
  const shortening = { ...shorteningOf(record, { items: 0, chars: LAST_RESORT_CHARS, lines: 0 }), eventId: plain(record.eventId) };
  const summary = {
    rule: plain(record.rule),
    outcome: record.outcome,
    severity: plain(severity),
    mode: record.mode,
    trigger: record.trigger,
    eventId: plain(record.eventId),
    eventName: plain(record.eventName),
    eventSource: plain(record.eventSource),
    eventTime: plain(record.eventTime),
    account: plain(record.account),
    region: plain(record.region),
    actor: plain(record.actor),
  };
  const text = [
    subject,
    '',
    `Outcome: ${record.outcome} (mode ${record.mode}, rule ${summary.rule})`,
    `Resources: ${record.resources.length}, actions: ${record.actions.length}, exemptions: ${record.exemptions.length}`,
    `Account: ${summary.account}, region: ${summary.region}`,
    `Call: ${summary.eventSource} ${summary.eventName} at ${summary.eventTime} by ${summary.actor}`,
    `Event id: ${summary.eventId}`,
    '',
    shorteningLine(shortening),
  ].join('\n');
  return {
    subject: cut(subject, 99),
    text,
    json: JSON.stringify({ subject: cut(subject, 99), dedupKey, record: summary, shortened: shortening }),
    dedupKey,
    attributes: { rule: plain(record.rule ?? 'none'), severity: plain(severity), outcome: record.outcome, account: plain(record.account ?? 'unknown') },
  };
}

/**
 * The first of `build(full)`, `build(each shortening)` that fits SNS_MESSAGE_LIMIT, else `lastResort()`: the
 * structural guarantee that every notification can be published, however many resources an event names.
 */
export function fitNotification(build: (detail: Detail | undefined) => Notification, lastResort: () => Notification): Notification {
  for (const detail of [undefined, ...SHORTENINGS]) {
    const notification = build(detail);
    if (publishedBytes(notification) <= SNS_MESSAGE_LIMIT) return notification;
  }
  return lastResort();
}
