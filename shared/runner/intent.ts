/**
 * Writes whose response was lost: before its first write a live run records its intent in the event's claim
 * (claim.ts), and names it in the resources' fix markers. A retry of a try that failed transiently reads the
 * intended writes back: all landed, it records and tells that fix; some landed, they lead its record; a later
 * fix by another invocation supersedes the intent, and the retry decides afresh.
 */
import { randomUUID } from 'node:crypto';
import { classifyAwsError } from '../aws/errors.js';
import { AwsCallError } from '../errors.js';
import type { ExemptionMatch } from '../exemptions.js';
import type { ActionRecord } from '../remediation-log.js';
import type { AnyRule, PlannedAction, RunContext, Verification } from '../rule.js';
import type { Intent } from '../state/store.js';
import { verifyOf } from './act.js';
import type { ClaimRef } from './claim.js';
import { conclude, plannedRecord, type Conclusion } from './conclusion.js';
import type { RunDeps } from './deps.js';
import { defaultLockKey } from './locks.js';

/** An action of an earlier try's intent that reads back as done: kept in this try's intent and record. */
export interface DoneEarlier {
  readonly action: PlannedAction;
  readonly record: ActionRecord;
}

const actionKey = (action: PlannedAction): string => JSON.stringify([action.api, action.resource.id, action.params]);

/** A half-done earlier try: what it did stays in the intent and the record (with its `previous`), unless re-planned. */
export function keptEarlier(earlier: readonly DoneEarlier[], toDo: readonly PlannedAction[]): readonly DoneEarlier[] {
  const planned = new Set(toDo.map(actionKey));
  return earlier.filter((done) => !planned.has(actionKey(done.action)));
}

/**
 * Writes what is about to be done into the event's claim before the first write: a write can land with its
 * response lost (the try then fails transiently), and the retry must still record and tell that fix. First
 * the resources' fix markers name this intent: a retry of an older intent on them (another event's, whose
 * write may never have landed) is superseded, so it never claims, or pages, the fix this run makes.
 */
export async function recordIntent(
  rule: AnyRule,
  claim: ClaimRef | undefined,
  actions: readonly PlannedAction[],
  planned: Conclusion,
  context: RunContext,
  clients: unknown,
  deps: RunDeps,
): Promise<void> {
  const store = deps.store;
  if (!store || !claim?.key || !claim.token) return;
  const intent: Intent = {
    id: randomUUID(),
    actions,
    reason: planned.subject,
    severity: planned.severity,
    resources: planned.resources,
    at: new Date(deps.now()).toISOString(),
    finding: planned.finding,
  };
  const keepMs = deps.config.reliability.idempotencyHours * 3_600_000;
  const markers = await fixMarkersOf(rule, actions, context, clients);
  await Promise.all(markers.map((name) => store.markFix(name, intent.id, deps.now(), keepMs)));
  if (!(await store.recordIntent(claim.key, claim.token, intent))) {
    // The claim lapsed and another invocation took it: that one decides; two must never act at once.
    throw new AwsCallError(
      'DynamoDB.UpdateItem',
      claim.key,
      'transient',
      'ClaimLost',
      `the claim on ${claim.key} lapsed and another invocation took it: this one does not act`,
    );
  }
  claim.intent = intent;
}

/** The fix markers of the resources actions change: named as their locks are, so every form of a name meets. */
async function fixMarkersOf(rule: AnyRule, actions: readonly PlannedAction[], context: RunContext, clients: unknown): Promise<readonly string[]> {
  const keys = await Promise.all(actions.map((action) => rule.lockKey?.(action.resource, context, clients) ?? defaultLockKey(action.resource, context)));
  return [...new Set(keys.map((key) => `${rule.id}#${key}`))].sort();
}

/**
 * The retry of a try that recorded an intent: the intended actions that read back as done now. None when the
 * intent is superseded (another invocation acted on one of its resources since: its fix is that one's to tell)
 * or nothing landed; the claim then no longer keeps the intent, and the retry decides afresh. A read-back that
 * cannot be made (throttled) is thrown: retried again, the intent kept.
 */
export async function readBackIntent(
  rule: AnyRule,
  claim: ClaimRef,
  intent: Intent,
  context: RunContext,
  clients: unknown,
  deps: RunDeps,
): Promise<readonly DoneEarlier[]> {
  const store = deps.store;
  if (!store) return [];
  const markers = await fixMarkersOf(rule, intent.actions, context, clients);
  const latest = await Promise.all(markers.map((name) => store.lastFixOf(name)));
  const done: DoneEarlier[] = [];
  if (latest.every((id) => id === intent.id)) {
    for (const action of intent.actions) {
      let verification: Verification;
      try {
        verification = await verifyOf(rule, action, clients, context);
      } catch (error) {
        const classified = classifyAwsError(error, action.api, action.resource.id);
        if (classified.kind === 'transient') throw classified;
        continue;
      }
      if (verification.ok) done.push({ action, record: { ...plannedRecord(action), status: 'done', verification } });
    }
  }
  if (done.length === 0) claim.intent = undefined;
  return done;
}

/** Every action of an earlier try's intent reads back as done: its writes landed, and this retry records and tells them. */
export function landedConclusion(intent: Intent, done: readonly DoneEarlier[], exemptions: readonly ExemptionMatch[]): Conclusion {
  return conclude('remediated', `${intent.reason}; remediated and verified: the write of an earlier try (${intent.at}) landed, this retry read it back`, {
    subject: intent.reason,
    severity: intent.severity,
    resources: intent.resources,
    actions: done.map((d) => d.record),
    exemptions,
    finding: intent.finding ?? null,
  });
}
