/**
 * Acting, live: each planned write performed through its action type, then read back, and the outcome of the
 * whole: only every write done and verified is `remediated`; a resource already gone is `ignored`; a transient
 * failure before any write is thrown (retried), after some is half-done (recorded, retried). Outcomes are
 * decided on fields (`status`, `verification.ok`, `verification.gone`), never on a detail's words.
 */
import { classifyAwsError, mayHaveLanded } from '../aws/errors.js';
import type { AwsCallError } from '../errors.js';
import type { ActionRecord, RecordError } from '../remediation-log.js';
import { whereOf, type AnyRule, type PlannedAction, type RunContext, type Verification } from '../rule.js';
import { performAction, verifyAction } from '../actions/perform.js';
import type { ClaimRef } from './claim.js';
import { errorRecord, plannedRecord, type Conclusion } from './conclusion.js';

/** Performs one action through the rule's action type for it; the Region is the resource's own, else the run's. */
function performOf(rule: AnyRule, action: PlannedAction, clients: unknown, context: RunContext): Promise<void> {
  return performAction(rule.actions, action, clients, whereOf(context).region);
}

/** Reads back one action through its action type. */
export function verifyOf(rule: AnyRule, action: PlannedAction, clients: unknown, context: RunContext): Promise<Verification> {
  return verifyAction(rule.actions, action, clients, whereOf(context).region);
}

/**
 * Live: performs each action, then reads each back. Only all-done-and-verified is `remediated`. `earlier` are
 * the actions a half-done earlier try did (read back as done): they lead the record.
 */
export async function actAndVerify(
  rule: AnyRule,
  actions: readonly PlannedAction[],
  clients: unknown,
  planned: Conclusion,
  earlier: readonly ActionRecord[],
  claim: ClaimRef | undefined,
  context: RunContext,
): Promise<Conclusion> {
  const { subject } = planned;
  // Acted on from here: the record's words say what became of the plan.
  const acted: Conclusion = { ...planned, plan: null };
  const total = earlier.length + actions.length;
  const results: ActionRecord[] = [...earlier];
  let firstError: RecordError | null = null;
  // Read-backs that could not be made (throttled, unreachable): they say nothing about the resource.
  const unread = new Map<ActionRecord, AwsCallError>();
  for (const action of actions) {
    const base = plannedRecord(action);
    try {
      await performOf(rule, action, clients, context);
    } catch (error) {
      const classified = classifyAwsError(error, action.api, action.resource.id);
      // A throttled or unreachable service is retried by Lambda/EventBridge: the next run re-reads the state.
      if (classified.kind === 'transient' && results.length === 0) {
        // Refused (throttled, another 4xx, no connection): nothing of the intent landed, so the retry does not
        // read it back. Ambiguous (a timeout, a reset, a 5xx): it may have landed, and the retry reads it back.
        if (claim && !mayHaveLanded(error)) claim.intent = undefined;
        throw classified;
      }
      if (classified.kind === 'transient') {
        // Half-done: earlier writes landed. The record says which before the retry re-decides on current state.
        const done = results.filter((r) => r.status === 'done').length;
        return {
          ...acted,
          outcome: 'failed',
          error: errorRecord(rule, classified),
          skipped: { why: 'half-done', done, total },
          actions: [...results, { ...base, status: 'failed', error: `transient: ${classified.code}` }],
          reason: `${subject}; half done: ${done} of ${total} actions done, then ${action.api} failed (${classified.code}); retried by Lambda/EventBridge`,
        };
      }
      if (classified.kind === 'gone') {
        results.push({ ...base, status: 'done', verification: { ok: true, detail: `already gone (${classified.code})`, gone: true } });
        continue;
      }
      const recordError = errorRecord(rule, classified);
      firstError ??= recordError;
      results.push({ ...base, status: 'failed', error: `${classified.kind}: ${classified.code}` });
      continue;
    }
    let verification: Verification;
    let unreadable: AwsCallError | undefined;
    try {
      verification = await verifyOf(rule, action, clients, context);
    } catch (error) {
      const classified = classifyAwsError(error, action.api, action.resource.id);
      if (classified.kind === 'transient') unreadable = classified;
      verification = { ok: false, detail: `the read-back ${unreadable ? 'could not be made' : 'failed'}: ${classified.code}` };
    }
    const result: ActionRecord = { ...base, status: 'done', verification };
    if (unreadable) unread.set(result, unreadable);
    results.push(result);
  }
  const failed = results.filter((r) => r.status === 'failed');
  const unverified = results.filter((r) => r.status === 'done' && r.verification && !r.verification.ok && !unread.has(r));
  if (failed.length > 0) {
    const done = results.length - failed.length;
    return {
      ...acted,
      outcome: 'failed',
      actions: results,
      error: firstError,
      reason: `${subject}; ${failed.length} of ${results.length} actions failed${done > 0 ? ` (${done} done)` : ''}: ${failed.map((f) => f.error).join(', ')}`,
    };
  }
  if (unverified.length > 0) {
    return {
      ...acted,
      outcome: 'failed',
      actions: results,
      reason: `${subject}; acted, but verification failed: ${unverified.map((u) => u.verification?.detail).join('; ')}`,
    };
  }
  const [firstUnread] = unread.values();
  if (firstUnread) {
    // Transient, so the notification waits and the claim keeps the intent: the retry reads back and records.
    return {
      ...acted,
      outcome: 'failed',
      actions: results,
      error: errorRecord(rule, firstUnread),
      reason: `${subject}; acted, but the read-back could not be made (${firstUnread.code}): the retry verifies; retried by Lambda/EventBridge`,
    };
  }
  if (results.every((r) => r.verification?.gone)) {
    return { ...acted, outcome: 'ignored', actions: results, reason: `${subject}; the resource was already gone when acting` };
  }
  const byEarlier = earlier.length > 0 ? ` (${earlier.length} of ${total} actions done by an earlier try)` : '';
  return { ...acted, outcome: 'remediated', actions: results, reason: `${subject}; remediated and verified${byEarlier}` };
}
