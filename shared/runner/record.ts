/**
 * The run's one remediation record: the conclusion with what started the run (origin.ts: who, what, where, when), the
 * exposure window of a live fix, the notification's status and the duration; written once, then returned.
 */
import { reversalCommands, reversalsOf } from '../actions/reversal.js';
import { controlsOf } from '../controls.js';
import { plausibleEventTimeMs } from '../events/normalize.js';
import type { RemediationRecord, ReverseCommand } from '../remediation-log.js';
import type { AnyRule } from '../rule.js';
import type { RuleId } from '../config.js';
import type { Conclusion } from './conclusion.js';
import type { RunDeps } from './deps.js';
import type { Origin } from './origin.js';
import { notifyFor } from './notify.js';

/**
 * The record of a conclusion before it is told: not notified, no exposure figure. Written out field by field (no
 * spreads): replay builds one per event, most of them for events no rule matches (run.ts, unmatchedRecord).
 */
export function recordDraft(rule: RuleId | null, origin: Origin, conclusion: Conclusion, mode: RunDeps['mode'], durationMs: number): RemediationRecord {
  return {
    rule,
    outcome: conclusion.outcome,
    severity: conclusion.severity ?? (conclusion.outcome === 'failed' ? 'HIGH' : null),
    mode,
    trigger: origin.trigger,
    eventId: origin.eventId,
    eventName: origin.eventName,
    eventSource: origin.eventSource,
    eventTime: origin.eventTime,
    errorCode: origin.errorCode,
    account: origin.account,
    region: origin.region,
    actor: origin.actor,
    actorType: origin.actorType,
    sourceIp: origin.sourceIp,
    userAgent: origin.userAgent,
    resources: conclusion.resources,
    actions: conclusion.actions,
    reason: conclusion.reason,
    finding: conclusion.finding,
    exemptions: conclusion.exemptions,
    error: conclusion.error,
    notification: { status: 'not-needed' },
    durationMs,
    exposureMs: null,
  };
}

/**
 * Builds the record, tells it (notify.ts) and writes it. `withheld`: why this run must not tell (its lapsed claim
 * was taken over by another invocation, which records and tells the event).
 */
export async function finish(
  rule: AnyRule | undefined,
  origin: Origin,
  conclusion: Conclusion,
  deps: RunDeps,
  started: number,
  withheld?: string,
): Promise<RemediationRecord> {
  const draft = recordDraft(rule?.id ?? null, origin, conclusion, deps.mode, 0);
  // The fix was verified when the conclusion was reached: the exposure window ends here, not after notifying.
  const fixedAt = deps.now();
  const exposure = exposureOf(draft, fixedAt);
  // No figure from an implausible event time, and the operator is told why, in the record and the notification. The
  // exposure is known now, so the notification carries it; `notification` and `durationMs` are not, and it leaves them out.
  const told: RemediationRecord = {
    ...draft,
    ...('implausible' in exposure ? { reason: `${draft.reason}; no exposure figure: ${exposure.implausible}` } : {}),
    exposureMs: 'ms' in exposure ? exposure.ms : null,
  };
  const notification = await notifyFor(rule, told, deps, withheld, conclusion.coveredBy);
  // The controls and reverse commands go on the record for consumers that cannot load the rules (the Security Hub
  // exporter); the notification has them already, in its own form.
  const controls = controlsOf(rule?.controls, told.finding).map((control) => control.id);
  const reverseCommands = rule ? reverseCommandsOf(rule, told) : [];
  const record: RemediationRecord = {
    ...told,
    notification,
    durationMs: Math.max(0, Math.round(deps.now() - started)),
    ...(controls.length > 0 ? { controls } : {}),
    ...(reverseCommands.length > 0 ? { reverseCommands } : {}),
  };
  deps.write(record);
  return record;
}

/**
 * Event time to verified fix, for a live remediation; a negative window (clock skew) counts as zero. None for
 * anything else, and none, with why, when the event time is implausible (before 2006, in the future, unreadable).
 */
function exposureOf(record: RemediationRecord, fixedAt: number): { readonly ms: number } | { readonly implausible: string } | { readonly none: true } {
  if (record.mode !== 'live' || record.outcome !== 'remediated' || record.eventTime === null) return { none: true };
  const start = plausibleEventTimeMs(record.eventTime, fixedAt);
  return 'ms' in start ? { ms: Math.max(0, Math.round(fixedAt - start.ms)) } : start;
}

/** At most this many reverse commands on a record (one per write): a launch of 500 instances keeps the log line small. */
export const REVERSE_COMMANDS_LIMIT = 100;

/**
 * The commands that reverse a `remediated` record's writes, each with the write's resource, as the notification
 * prints them (shared/actions/reversal.ts). None when a write can only be reversed by hand: a list without it would
 * read as the whole reversal.
 */
function reverseCommandsOf(rule: AnyRule, record: RemediationRecord): readonly ReverseCommand[] {
  if (record.outcome !== 'remediated') return [];
  const reversals = reversalsOf(rule.actions ?? [], record);
  if (reversals.some(({ reversal }) => reversal.kind === 'manual')) return [];
  return reversals
    .flatMap(({ action, reversal }) => reversalCommands(reversal).map((command) => ({ resource: action.resource, command })))
    .slice(0, REVERSE_COMMANDS_LIMIT);
}
