/**
 * Telling a person: whether a record is told at all (its outcome, a transient error whose retry tells, a claim
 * taken over, no topic), the burst notice or the rule's message with the commands that reverse each write, and
 * the notification's status for the record. A notification that fails never undoes the remediation.
 */
import { buildBurstNotification, buildNotification, NOTIFIED_OUTCOMES, notificationFailure } from '../notifier.js';
import type { NotificationStatus, RemediationRecord } from '../remediation-log.js';
import type { AnyRule, Message } from '../rule.js';
import { reversalLines } from '../actions/reversal.js';
import type { RunDeps } from './deps.js';
import { burstPosition } from './digest.js';

/** Tells the record, if it is worth telling; `withheld`: why this run must not (another invocation tells it). */
export async function notifyFor(rule: AnyRule | undefined, record: RemediationRecord, deps: RunDeps, withheld?: string): Promise<NotificationStatus> {
  if (!rule || !NOTIFIED_OUTCOMES.has(record.outcome)) return { status: 'not-needed' };
  if (record.error?.kind === 'transient' && !deps.once) return { status: 'deferred', reason: 'transient error: the retry will notify' };
  if (withheld) return { status: 'skipped', reason: withheld };
  if (!deps.notify) return { status: 'skipped', reason: deps.notifySkipReason ?? 'no SNS topic configured' };
  try {
    const { position, windowEnd } = await burstPosition(rule, record, deps);
    if (position === 'suppressed') {
      const { maxPerWindow, windowMinutes } = deps.config.reliability.digest;
      return { status: 'suppressed', reason: `burst: more than ${maxPerWindow} ${rule.id} notifications for account ${record.account ?? 'unknown'} within ${windowMinutes} min; this one is in the remediation log only` };
    }
    const notification = position === 'first-over'
      ? buildBurstNotification(record, deps.config.reliability.digest, new Date(windowEnd).toISOString())
      : buildNotification(record, messageOf(rule, record));
    const messageId = await deps.notify(notification);
    if (position === 'first-over') return { status: 'sent', messageId, burst: true };
    // Sent past the digest, which could not count it: why a window may hold one more message than its limit.
    return position === 'uncounted' ? { status: 'sent', messageId, uncounted: true } : { status: 'sent', messageId };
  } catch (error) {
    // The remediation stands; the lost (or maybe sent: `ambiguous`) notification is in the record and the log instead.
    return notificationFailure(error, deps.config.topicArn ?? 'topic');
  }
}

/** The rule's message, then the command that reverses each write, from its action type (as report and undo print it). */
export function messageOf(rule: AnyRule, record: RemediationRecord): Message {
  const message = rule.message(record);
  return { ...message, lines: [...message.lines, ...reversalLines(rule.actions ?? [], record)] };
}
