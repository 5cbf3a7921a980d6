/**
 * The run's one remediation record: the conclusion with what started the run (origin.ts: who, what, where, when), the
 * exposure window of a live fix, the notification's status and the duration; written once, then returned.
 */
import { plausibleEventTimeMs } from '../events/normalize.js';
import type { RemediationRecord } from '../remediation-log.js';
import type { AnyRule } from '../rule.js';
import type { Conclusion } from './conclusion.js';
import type { RunDeps } from './deps.js';
import type { Origin } from './origin.js';
import { notifyFor } from './notify.js';

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
  const draft: RemediationRecord = {
    rule: rule?.id ?? null,
    outcome: conclusion.outcome,
    severity: conclusion.severity ?? (conclusion.outcome === 'failed' ? 'HIGH' : null),
    mode: deps.mode,
    ...origin,
    resources: conclusion.resources,
    actions: conclusion.actions,
    reason: conclusion.reason,
    finding: conclusion.finding,
    exemptions: conclusion.exemptions,
    error: conclusion.error,
    notification: { status: 'not-needed' },
    durationMs: 0,
    exposureMs: null,
  };
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
  const record: RemediationRecord = {
    ...told,
    notification,
    durationMs: Math.max(0, Math.round(deps.now() - started)),
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
