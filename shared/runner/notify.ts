/**
 * Telling a person: whether a record is told at all (its outcome, a transient error whose retry tells, a claim
 * taken over, no topic), the burst notice or the rule's message with the commands that reverse each write, and
 * the notification's status for the record. A notification that fails never undoes the remediation.
 */
import { buildBurstNotification, buildNotification, NOTIFIED_OUTCOMES, notificationFailure, type NotificationContext } from '../notifier.js';
import type { NotificationStatus, RemediationRecord } from '../remediation-log.js';
import type { AnyRule, Coverage, Message, Severity } from '../rule.js';
import { reversalLines } from '../actions/reversal.js';
import { controlsOf } from '../controls.js';
import { findExemption } from '../exemptions.js';
import type { RunDeps } from './deps.js';
import { burstPosition } from './digest.js';

/**
 * Tells the record, if it is worth telling; `withheld`: why this run must not (another invocation tells it);
 * `coveredBy`: another rule that pages the same event (the record is folded into its page when it may).
 */
export async function notifyFor(
  rule: AnyRule | undefined,
  record: RemediationRecord,
  deps: RunDeps,
  withheld?: string,
  coveredBy?: Coverage | null,
): Promise<NotificationStatus> {
  if (!rule || !NOTIFIED_OUTCOMES.has(record.outcome)) return { status: 'not-needed' };
  if (record.error?.kind === 'transient' && !deps.once) return { status: 'deferred', reason: 'transient error: the retry will notify' };
  const folded = foldOf(record, coveredBy, deps);
  if (folded) return folded;
  if (withheld) return { status: 'skipped', reason: withheld };
  if (!deps.notify) return { status: 'skipped', reason: deps.notifySkipReason ?? 'no SNS topic configured' };
  try {
    const { position, windowEnd } = await burstPosition(rule, record, deps);
    if (position === 'suppressed') {
      const { maxPerWindow, windowMinutes } = deps.config.reliability.digest;
      return {
        status: 'suppressed',
        reason: `burst: more than ${maxPerWindow} ${rule.id} notifications for account ${record.account ?? 'unknown'} within ${windowMinutes} min; this one is in the remediation log only`,
      };
    }
    const notification =
      position === 'first-over'
        ? buildBurstNotification(record, deps.config.reliability.digest, new Date(windowEnd).toISOString())
        : buildNotification(record, messageOf(rule, record), contextOf(rule, record, deps));
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

const SEVERITY_RANK: Readonly<Record<Severity, number>> = { LOW: 0, MEDIUM: 1, HIGH: 2, CRITICAL: 3 };

/**
 * One page per event: an alert another rule also pages is folded into that page, and only its record is kept, when
 * that rule is enabled, pages at a severity at least this alert's, and no exemption of its could keep it silent on
 * the event. Anything else pages as it would alone: a fold may never lose a page. Both invocations decide from
 * the same event and configuration, so neither waits for the other and the order they run in does not matter.
 */
export function foldOf(
  record: RemediationRecord,
  coverage: Coverage | null | undefined,
  deps: Pick<RunDeps, 'config' | 'now'>,
): NotificationStatus | undefined {
  if (!coverage || record.outcome !== 'alerted' || record.severity === null) return undefined;
  if (!deps.config.rules[coverage.rule].enabled) return undefined;
  if (SEVERITY_RANK[coverage.severity] < SEVERITY_RANK[record.severity]) return undefined;
  // Only into a page the burst digest never holds back: a digested covering page would leave nobody paged.
  if (coverage.severity !== 'CRITICAL') return undefined;
  const today = new Date(deps.now()).toISOString().slice(0, 10);
  if (coverage.resources.some((resource) => findExemption(deps.config.exemptions, coverage.rule, resource, today))) return undefined;
  return {
    status: 'folded',
    into: coverage.rule,
    severity: coverage.severity,
    reason: `${coverage.rule} pages this event at ${coverage.severity} (this finding: ${record.severity}): one page per event, this finding is in the remediation log`,
  };
}

/** What the notification adds to the rule's message: the controls its finding matches, and where the console links lead. */
function contextOf(rule: AnyRule, record: RemediationRecord, deps: RunDeps): NotificationContext {
  const central = deps.config.organization?.centralAccountId;
  return { controls: controlsOf(rule.controls, record.finding), ...(central ? { centralAccount: central } : {}) };
}
