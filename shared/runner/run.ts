import type { AccountAccess, ClientOptions } from '../aws/client-options.js';
import { accountAccess } from '../aws/sts.js';
import type { Config, Mode } from '../config.js';
import { AwsCallError, ParseError } from '../errors.js';
import { findExemption, type ExemptionMatch } from '../exemptions.js';
import { selfCallOf } from './self-calls.js';
import { plausibleEventTimeMs } from '../events/normalize.js';
import { matchesPattern } from '../events/pattern.js';
import {
  CLOUDTRAIL_DETAIL_TYPES,
  actorLabel,
  contentEventId,
  parseEnvelope,
  toEnvelopeJson,
  type Actor,
  type CloudTrailEvent,
} from '../events/schema.js';
import { buildBurstNotification, buildNotification, NOTIFIED_OUTCOMES, type Notify } from '../notifier.js';
import type {
  ActionRecord,
  NotificationStatus,
  Outcome,
  RecordError,
  RemediationRecord,
} from '../remediation-log.js';
import type { AnyRule, Decision, EventContext, PlannedAction, ResourceRef, RuleFacts, Severity } from '../rule.js';
import { assertNever } from './assert-never.js';
import { beforeDeadline, claimLockMs, settleWithinMargin } from './deadline.js';
import { classifyAwsError } from '../aws/errors.js';
import type { Intent, StateStore } from '../state/store.js';
import { isReadCommand } from '../aws/client-options.js';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** Wall-clock time in epoch ms, as `Date.now` gives it. */
export type WallClock = () => number;

/** Everything `run` needs from the world; Lambda and replay differ only in these. */
export interface RunDeps {
  readonly config: Config;
  readonly mode: Mode;
  /** Absent when nothing may be published (no topic, or offline): the record says why in `notification`. */
  readonly notify: Notify | undefined;
  /** Why `notify` is absent, for the record. @default 'no SNS topic configured' */
  readonly notifySkipReason?: string;
  readonly write: (record: RemediationRecord) => void;
  /**
   * The one clock: wall-clock time in epoch ms (`Date.now`), for exemption expiry dates, claim locks,
   * breaker and digest windows, exposure and durations. Never a monotonic clock (`performance.now()` counts
   * from process start, so "today" would be 1970-01-01 and an exemption that expired in 2001 would hold).
   */
  readonly now: WallClock;
  /**
   * Idempotency, circuit breaker and digests. Always set in Lambda and for every live CLI run; absent in an
   * offline or dry-run replay, whose fixture ids repeat (SHAPES.md §9): a store would take them for duplicates.
   */
  readonly store?: StateStore;
  /**
   * When this invocation's AWS work must end (epoch ms): the Lambda adapters set it from the context's remaining
   * time less DEADLINE_MARGIN_MS (deadline.ts), kept for the record and the claim. Absent in replay and the CLI.
   */
  readonly deadline?: number;
}

/** How long a claim holds without a deadline (replay, CLI); in Lambda it holds for the invocation's remaining time. */
const CLAIM_LOCK_MS = 90_000;

/** How long a resource lock holds if its holder dies without freeing it, without a deadline: as long as a claim. */
const RESOURCE_LOCK_MS = CLAIM_LOCK_MS;
/** Waiting for a resource lock another invocation holds: 10 polls 200 ms apart (about 2 s), then retried. */
const LOCK_POLLS = 10;
const LOCK_POLL_MS = 200;

/** APIs the runner itself calls, with the IAM action each needs (rules declare their own). */
const RUNNER_PERMISSIONS: Readonly<Record<string, string>> = {
  'DynamoDB.PutItem': 'dynamodb:PutItem',
  'DynamoDB.UpdateItem': 'dynamodb:UpdateItem',
  'DynamoDB.GetItem': 'dynamodb:GetItem',
  'DynamoDB.DeleteItem': 'dynamodb:DeleteItem',
  'SNS.Publish': 'sns:Publish',
  'STS.AssumeRole': 'sts:AssumeRole',
};

const CLOUDTRAIL_DETAIL_TYPE_SET: ReadonlySet<string> = new Set(Object.values(CLOUDTRAIL_DETAIL_TYPES));

/** The part of a record that `decideEvent` settles; the rest comes from the event and the run. */
interface Conclusion {
  readonly outcome: Outcome;
  readonly reason: string;
  readonly severity: Severity | null;
  readonly resources: readonly ResourceRef[];
  readonly actions: readonly ActionRecord[];
  readonly exemptions: readonly ExemptionMatch[];
  readonly error: RecordError | null;
}

const conclude = (outcome: Outcome, reason: string, extra: Partial<Conclusion> = {}): Conclusion => ({
  outcome,
  reason,
  severity: null,
  resources: [],
  actions: [],
  exemptions: [],
  error: null,
  ...extra,
});

/**
 * Runs one rule over one event and returns its one remediation record (also written and, when worth
 * telling, notified). One straight path: envelope → guards → parse → exemptions → inspect → decide →
 * act → verify → record → notify → log. It never throws: every error becomes the record's outcome.
 */
export async function run(rule: AnyRule, input: unknown, deps: RunDeps): Promise<RemediationRecord> {
  const started = deps.now();
  let event: CloudTrailEvent | undefined;
  let conclusion: Conclusion;
  const claim: ClaimRef = { key: undefined };
  const json = toEnvelopeJson(input);
  try {
    const parsed = parseEnvelope(json);
    event = parsed;
    conclusion = await beforeDeadline(deps, () => decideEvent(rule, json, parsed, deps, claim));
  } catch (error) {
    conclusion = concludeFromError(rule, error);
  }
  const concluded = conclusion;
  return settleWithinMargin(deps, async () => {
    const record = await finish(rule, input, event, concluded, deps, started, 'event');
    await settleClaim(claim, record, deps);
    return record;
  });
}

/** The event's claim, once taken: its key and token, and the intent an earlier try recorded in it. */
interface ClaimRef {
  key: string | undefined;
  token?: string;
  intent?: Intent;
}

/** What started a run: an EventBridge event, the reconciliation sweep, or a scheduled follow-up. */
export type Trigger = RemediationRecord['trigger'];

/**
 * Runs a rule on facts that did not come from a CloudTrail call (the sweep finding a public bucket, a
 * scheduled enforcement check): the same exemptions, inspect, decide, breaker, act, verify, record and
 * notification as an event, with `event` describing the trigger (its id names the finding or schedule).
 */
export async function runWithFacts(
  rule: AnyRule,
  event: CloudTrailEvent,
  facts: RuleFacts,
  trigger: Exclude<Trigger, 'event'>,
  deps: RunDeps,
): Promise<RemediationRecord> {
  const started = deps.now();
  const claim: ClaimRef = { key: undefined };
  let conclusion: Conclusion;
  try {
    const settings = rule.settings(deps.config);
    conclusion = settings.enabled
      ? await beforeDeadline(deps, () => claimThen(rule, event, deps, claim, () => decideFacts(rule, facts, { event, record: event.detail }, deps, trigger, claim)))
      : conclude('ignored', `rule ${rule.id} is disabled in configuration`);
  } catch (error) {
    conclusion = concludeFromError(rule, error);
  }
  const concluded = conclusion;
  return settleWithinMargin(deps, async () => {
    const record = await finish(rule, event, event, concluded, deps, started, trigger);
    await settleClaim(claim, record, deps);
    return record;
  });
}

/** Claims the event id (when a store is configured); a duplicate ends as `ignored`, else `next` decides. */
async function claimThen(rule: AnyRule, event: CloudTrailEvent, deps: RunDeps, claim: ClaimRef, next: () => Promise<Conclusion>): Promise<Conclusion> {
  if (!deps.store) return next();
  const id = event.detail.eventId ?? event.id;
  const key = `${rule.id}#${id}`;
  const keepMs = deps.config.reliability.idempotencyHours * 3_600_000;
  const found = await deps.store.claimEvent(key, deps.now(), claimLockMs(deps, CLAIM_LOCK_MS), keepMs);
  if (found.kind === 'duplicate' && found.status === 'done') {
    return conclude('ignored', `duplicate delivery of event ${id}: already handled as ${found.outcome ?? 'unknown'} at ${found.at}`);
  }
  if (found.kind === 'duplicate') {
    // Another invocation holds the claim: it may finish, or it may have timed out or crashed (its lock then
    // lapses). Ignoring this delivery would lose the event in the second case, so it is retried: by then the
    // first has finished (a duplicate, ignored) or its lock has expired (this one acts).
    throw new AwsCallError('DynamoDB.UpdateItem', key, 'transient', 'ClaimInProgress', `event ${id} is being handled by another invocation since ${found.at}: retried once its claim is settled or lapses`);
  }
  claim.key = key;
  claim.token = found.token;
  if (found.intent) claim.intent = found.intent;
  return next();
}

/** A transient failure gives the claim back so the retry can act; anything else is final for this id. */
async function settleClaim(claim: ClaimRef, record: RemediationRecord, deps: RunDeps): Promise<void> {
  if (!claim.key || !claim.token || !deps.store) return;
  const keepMs = deps.config.reliability.idempotencyHours * 3_600_000;
  const settle = record.error?.kind === 'transient'
    ? deps.store.releaseEvent(claim.key, claim.token)
    : deps.store.completeEvent(claim.key, record.outcome, deps.now(), keepMs);
  // Best effort: if this write is lost, the lock expires and a redelivery re-decides on current state.
  await settle.catch(() => undefined);
}

/** Records an event that no rule's pattern matches (replay only): `ignored`, or `failed` if it does not parse. */
export async function runUnmatched(input: unknown, deps: RunDeps): Promise<RemediationRecord> {
  const started = deps.now();
  let event: CloudTrailEvent | undefined;
  let conclusion: Conclusion;
  try {
    event = parseEnvelope(toEnvelopeJson(input));
    conclusion = conclude('ignored', `no rule's pattern matches ${event.source} ${event.detail.eventName}`);
  } catch (error) {
    conclusion = concludeFromError(undefined, error);
  }
  return finish(undefined, input, event, conclusion, deps, started, 'event');
}

async function decideEvent(rule: AnyRule, json: unknown, event: CloudTrailEvent, deps: RunDeps, claim: ClaimRef): Promise<Conclusion> {
  const record = event.detail;
  const store = deps.store;
  const context: EventContext = store
    ? { event, record, countInWindow: (counter, start, count, expires) => store.addToWindow(`rule#${rule.id}#${counter}`, start, count, expires) }
    : { event, record };
  // EventBridge refuses custom events with an `aws.` source, so this keeps forged events away from any write.
  if (!event.source.startsWith('aws.') || !CLOUDTRAIL_DETAIL_TYPE_SET.has(event.detailType)) {
    return conclude('ignored', `source "${event.source}" / detail-type "${event.detailType}" is not a CloudTrail event from an AWS service`);
  }
  if (!matchesPattern(rule.pattern, json)) {
    return conclude('ignored', `${record.eventSource} ${record.eventName} does not match the ${rule.id} pattern`);
  }
  const settings = rule.settings(deps.config);
  if (!settings.enabled) return conclude('ignored', `rule ${rule.id} is disabled in configuration`);
  const self = selfCallOf(record, event.account, deps.config);
  if (self) return conclude('ignored', `caused by trailguard itself (role ${self}): not re-evaluated, so no fix triggers another`);
  // EventBridge delivers at least once: from here on an event may act or notify, so it is claimed once.
  return claimThen(rule, event, deps, claim, async () => {
    if (record.errorCode) {
      const decision = rule.failedCall?.(record, settings, context);
      if (decision) return fromDecision(decision, [], deps.mode, []);
      return conclude('ignored', `the call failed (${record.errorCode}): nothing changed`);
    }

    return decideFacts(rule, rule.parse(context) as RuleFacts, context, deps, 'event', claim);
  });
}

/** Exemptions → inspect → decide → breaker → act → verify, for facts from an event, a sweep or a schedule. */
async function decideFacts(rule: AnyRule, facts: RuleFacts, context: EventContext, deps: RunDeps, trigger: Trigger = 'event', claim?: ClaimRef): Promise<Conclusion> {
  const today = new Date(deps.now()).toISOString().slice(0, 10);
  const exemptionOf = (resource: ResourceRef) => findExemption(deps.config.exemptions, rule.id, resource, today);
  const factExemptions = facts.resources.map(exemptionOf).filter((match) => match !== undefined);
  if (facts.resources.length > 0 && factExemptions.length === facts.resources.length) {
    return conclude('exempt', `exempt by configuration: ${factExemptions.map((e) => `${e.resource} (${e.reason})`).join('; ')}`, {
      resources: facts.resources,
      exemptions: factExemptions,
    });
  }
  return withResourceLocks(rule, facts, deps, () => inspectAndAct(rule, facts, context, deps, trigger, claim, factExemptions, exemptionOf));
}

/** Inspect → decide → breaker → act → verify; live, under the resources' locks (see `withResourceLocks`). */
async function inspectAndAct(
  rule: AnyRule,
  facts: RuleFacts,
  context: EventContext,
  deps: RunDeps,
  trigger: Trigger,
  claim: ClaimRef | undefined,
  factExemptions: readonly ExemptionMatch[],
  exemptionOf: (resource: ResourceRef) => ExemptionMatch | undefined,
): Promise<Conclusion> {
  const { event, record } = context;
  const settings = rule.settings(deps.config);
  const clientOptions: ClientOptions = {
    region: record.awsRegion || event.region,
    endpoint: deps.config.endpoint,
    readOnly: deps.mode !== 'live',
  };
  let clients: unknown;
  let state: unknown;
  switch (deps.mode) {
    case 'offline':
      break;
    case 'dry-run':
    case 'live': {
      try {
        const account = await memberAccessFor(rule, event, clientOptions.region, deps);
        clients = rule.clients(account ? { ...clientOptions, account } : clientOptions);
        // An earlier try recorded what it was about to do, then failed transiently: its write may have landed.
        const landed = deps.mode === 'live' && claim?.intent ? await landedIntent(rule, claim.intent, clients, factExemptions) : undefined;
        if (landed) return landed;
        state = await rule.inspect(facts, clients, context, settings);
      } catch (error) {
        // The record and the alert still name what the event was about (the deleted bucket, the stopped
        // trail) when the member role or a read fails before any decision; a transient error stays one.
        return { ...concludeFromError(rule, error), resources: facts.resources };
      }
      break;
    }
    default:
      assertNever(deps.mode);
  }
  const decision = rule.decide(facts, state, settings, context);
  const actionExemptions = decision.kind === 'violation' ? decision.actions.map((a) => exemptionOf(a.resource)) : [];
  const conclusion = fromDecision(decision, actionExemptions, deps.mode, factExemptions);
  if (conclusion.outcome !== 'would-remediate' || deps.mode !== 'live' || decision.kind !== 'violation') return conclusion;
  const toDo = decision.actions.filter((_, index) => actionExemptions[index] === undefined);
  // The breaker caps changes to the account's resources: a rule's calls in trailguard's own account (the
  // enforcement schedules) change nothing of the account's, so a large launch does not trip it by itself.
  const ownApis = new Set(rule.ownAccountApis ?? []);
  const breaker = await checkBreaker(breakerOf(rule.id, trigger), toDo.filter((action) => !ownApis.has(action.api)).length, deps);
  if (breaker) {
    // The trip itself pages (CRITICAL); reports while the breaker stays open keep their own severity, so
    // the digest can fold a flood into one notice instead of hundreds of pages.
    const severity = breaker.tripped ? 'CRITICAL' : conclusion.severity;
    return { ...conclusion, severity, reason: `${conclusion.reason.replace(/; will remediate$/, '')}; NOT remediated: ${breaker.reason}` };
  }
  await recordIntent(claim, toDo, conclusion, deps);
  return actAndVerify(rule, toDo, clients, conclusion);
}

/**
 * Writes what is about to be done into the event's claim before the first write: a write can land with its
 * response lost (the try then fails transiently), and the retry must still record and tell that fix.
 */
async function recordIntent(claim: ClaimRef | undefined, actions: readonly PlannedAction[], planned: Conclusion, deps: RunDeps): Promise<void> {
  if (!deps.store || !claim?.key || !claim.token) return;
  const intent: Intent = {
    actions, reason: planned.reason.replace(/; will remediate$/, ''), severity: planned.severity,
    resources: planned.resources, at: new Date(deps.now()).toISOString(),
  };
  if (!(await deps.store.recordIntent(claim.key, claim.token, intent))) {
    // The claim lapsed and another invocation took it: that one decides; two must never act at once.
    throw new AwsCallError('DynamoDB.UpdateItem', claim.key, 'transient', 'ClaimLost', `the claim on ${claim.key} lapsed and another invocation took it: this one does not act`);
  }
}

/**
 * The retry of a try that recorded an intent: if every intended action reads back as done, the earlier write
 * landed and this is its record (`remediated`, verified now, with the intent's `previous`). Undefined when
 * any does not: decide afresh. A read-back that cannot be made (throttled) is thrown: retried again.
 */
async function landedIntent(rule: AnyRule, intent: Intent, clients: unknown, exemptions: readonly ExemptionMatch[]): Promise<Conclusion | undefined> {
  const actions: ActionRecord[] = [];
  for (const action of intent.actions) {
    let verification: { ok: boolean; detail: string };
    try {
      verification = await rule.verify(action, clients);
    } catch (error) {
      const classified = classifyAwsError(error, action.api, action.resource.id);
      if (classified.kind === 'transient') throw classified;
      return undefined;
    }
    if (!verification.ok) return undefined;
    actions.push({ ...plannedRecord(action), status: 'done', verification });
  }
  return conclude('remediated', `${intent.reason}; remediated and verified: the write of an earlier try (${intent.at}) landed, this retry read it back`, {
    severity: intent.severity, resources: intent.resources, actions, exemptions,
  });
}

/** True when a rule declares a write; notify-only rules never act, so they need no resource lock. */
function mayWrite(rule: AnyRule): boolean {
  return Object.keys(rule.permissions).some((api) => !isReadCommand(api.slice(api.indexOf('.') + 1)));
}

/**
 * Live: one decision at a time per rule and resource. Concurrent events on one resource (twenty StopLogging
 * in flight) would otherwise all read the old state and all act and page; under the lock the next one reads
 * the state the first left. Locks are taken in sorted order (no deadlock between multi-resource events) and
 * waited for briefly; one still held is a transient error, so the event is retried, never lost.
 */
async function withResourceLocks(rule: AnyRule, facts: RuleFacts, deps: RunDeps, body: () => Promise<Conclusion>): Promise<Conclusion> {
  const store = deps.store;
  if (!store || deps.mode !== 'live' || !mayWrite(rule)) return body();
  const owner = randomUUID();
  const names = [...new Set(facts.resources.map((resource) => `${rule.id}#${resource.id}`))].sort();
  const held: string[] = [];
  try {
    for (const name of names) {
      await waitForLock(store, name, owner, deps);
      held.push(name);
    }
    return await body();
  } finally {
    // Best effort: a lock that could not be freed lapses after RESOURCE_LOCK_MS.
    await Promise.all(held.map((name) => store.unlockResource(name, owner).catch(() => undefined)));
  }
}

async function waitForLock(store: StateStore, name: string, owner: string, deps: RunDeps): Promise<void> {
  for (let poll = 1; ; poll += 1) {
    // In Lambda, until the invocation ends (as the claim): a holder that timed out blocks no longer than that.
    if (await store.lockResource(name, owner, deps.now(), claimLockMs(deps, RESOURCE_LOCK_MS))) return;
    if (poll === LOCK_POLLS) break;
    await sleep(LOCK_POLL_MS);
  }
  throw new AwsCallError('DynamoDB.PutItem', `lock#${name}`, 'transient', 'ResourceLocked', `another invocation is deciding on ${name}: retried once it is done`);
}

/**
 * The breaker a run counts against: the rule's, or for a reconciliation sweep the rule's sweep breaker
 * (`public-bucket:sweep`). A first live sweep of an estate's legacy findings may well exceed the limit; it
 * must stop itself, not the rule's real-time remediation of new violations.
 */
export function breakerOf(ruleId: string, trigger: Trigger): string {
  return trigger === 'sweep' ? `${ruleId}:sweep` : ruleId;
}

/**
 * The circuit breaker: more writes than allowed per rule in a fixed window open it, and it stays open
 * (the rule reports, never writes) until an operator resets it. A bug or a hostile flood must not revoke
 * an estate's security groups. Returns why this event must not write, or undefined.
 */
async function checkBreaker(breaker: string, writes: number, deps: RunDeps): Promise<{ reason: string; tripped: boolean } | undefined> {
  if (!deps.store) return undefined;
  const reset = `reset with: trailguard breaker reset ${breaker}`;
  const { maxWrites, windowMinutes } = deps.config.reliability.breaker;
  const windowMs = windowMinutes * 60_000;
  const start = Math.floor(deps.now() / windowMs) * windowMs;
  // One round trip inside the exposure window: counting a write the open breaker then refuses is harmless.
  const [state, total] = await Promise.all([
    deps.store.breakerState(breaker),
    deps.store.addToWindow(`writes#${breaker}`, start, writes, start + 2 * windowMs),
  ]);
  if (state.open) return { reason: `the ${breaker} circuit breaker is open since ${state.since} (${state.reason}); ${reset}`, tripped: false };
  if (total <= maxWrites) return undefined;
  const reason = `${total} writes in ${windowMinutes} min exceed the limit of ${maxWrites}`;
  // Several invocations of one burst pass the limit before the breaker exists: only the one whose conditional
  // write opens it pages the trip; the others report an open breaker, digested like any other report.
  if (await deps.store.tripBreaker(breaker, deps.now(), reason)) {
    return { reason: `the ${breaker} circuit breaker tripped: ${reason}; ${reset}`, tripped: true };
  }
  return { reason: `the ${breaker} circuit breaker is open: a concurrent invocation tripped it (${reason}); ${reset}`, tripped: false };
}

function fromDecision(
  decision: Decision,
  actionExemptions: readonly (ExemptionMatch | undefined)[],
  mode: Mode,
  factExemptions: readonly ExemptionMatch[],
): Conclusion {
  switch (decision.kind) {
    case 'compliant':
      return conclude('compliant', decision.reason, { resources: decision.resources, exemptions: factExemptions });
    case 'not-applicable':
      return conclude('ignored', decision.reason, { exemptions: factExemptions });
    case 'alert':
      return conclude('alerted', decision.reason, { severity: decision.severity, resources: decision.resources, exemptions: factExemptions });
    case 'violation': {
      const exemptions = uniqueByResource([...factExemptions, ...actionExemptions.filter((e) => e !== undefined)]);
      const planned = decision.actions.filter((_, index) => actionExemptions[index] === undefined).map(plannedRecord);
      const base = { severity: decision.severity, resources: decision.resources, exemptions };
      if (planned.length === 0) {
        return conclude('exempt', `${decision.reason}; every action is exempt by configuration`, base);
      }
      const verb = mode === 'live' ? 'will remediate' : `would remediate (${mode})`;
      return conclude('would-remediate', `${decision.reason}; ${verb}`, { ...base, actions: planned });
    }
    default:
      return assertNever(decision);
  }
}

function uniqueByResource(matches: readonly ExemptionMatch[]): ExemptionMatch[] {
  return [...new Map(matches.map((match) => [match.resource, match])).values()];
}

function plannedRecord(action: PlannedAction): ActionRecord {
  return {
    api: action.api,
    status: 'planned',
    resource: action.resource.id,
    params: action.params,
    ...(action.previous !== undefined ? { previous: action.previous } : {}),
  };
}

/** Live: performs each action, then reads each back. Only all-done-and-verified is `remediated`. */
async function actAndVerify(rule: AnyRule, actions: readonly PlannedAction[], clients: unknown, planned: Conclusion): Promise<Conclusion> {
  const subject = planned.reason.replace(/; will remediate$/, '');
  const results: ActionRecord[] = [];
  let firstError: RecordError | null = null;
  // Read-backs that could not be made (throttled, unreachable): they say nothing about the resource.
  const unread = new Map<ActionRecord, AwsCallError>();
  for (const action of actions) {
    const base = plannedRecord(action);
    try {
      await rule.act(action, clients);
    } catch (error) {
      const classified = classifyAwsError(error, action.api, action.resource.id);
      // A throttled or unreachable service is retried by Lambda/EventBridge: the next run re-reads the state.
      if (classified.kind === 'transient' && results.length === 0) throw classified;
      if (classified.kind === 'transient') {
        // Half-done: earlier writes landed. The record says which before the retry re-decides on current state.
        const done = results.filter((r) => r.status === 'done').length;
        return {
          ...planned, outcome: 'failed', error: errorRecord(rule, classified),
          actions: [...results, { ...base, status: 'failed', error: `transient: ${classified.code}` }],
          reason: `${subject}; half done: ${done} of ${actions.length} actions done, then ${action.api} failed (${classified.code}); retried by Lambda/EventBridge`,
        };
      }
      if (classified.kind === 'gone') {
        results.push({ ...base, status: 'done', verification: { ok: true, detail: `already gone (${classified.code})` } });
        continue;
      }
      const recordError = errorRecord(rule, classified);
      firstError ??= recordError;
      results.push({ ...base, status: 'failed', error: `${classified.kind}: ${classified.code}` });
      continue;
    }
    let verification: { ok: boolean; detail: string };
    let unreadable: AwsCallError | undefined;
    try {
      verification = await rule.verify(action, clients);
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
    return { ...planned, outcome: 'failed', actions: results, error: firstError, reason: `${subject}; ${failed.length} of ${results.length} actions failed${done > 0 ? ` (${done} done)` : ''}: ${failed.map((f) => f.error).join(', ')}` };
  }
  if (unverified.length > 0) {
    return { ...planned, outcome: 'failed', actions: results, reason: `${subject}; acted, but verification failed: ${unverified.map((u) => u.verification?.detail).join('; ')}` };
  }
  const [firstUnread] = unread.values();
  if (firstUnread) {
    // Transient, so the notification waits and the claim keeps the intent: the retry reads back and records.
    return { ...planned, outcome: 'failed', actions: results, error: errorRecord(rule, firstUnread), reason: `${subject}; acted, but the read-back could not be made (${firstUnread.code}): the retry verifies; retried by Lambda/EventBridge` };
  }
  if (results.every((r) => r.verification?.detail.startsWith('already gone'))) {
    return { ...planned, outcome: 'ignored', actions: results, reason: `${subject}; the resource was already gone when acting` };
  }
  return { ...planned, outcome: 'remediated', actions: results, reason: `${subject}; remediated and verified` };
}

/**
 * Org mode: the member account the event is from, with the member role's credentials, assumed now so that a
 * role that cannot be assumed ends the run here, named, before any read. The session is limited to the rule's
 * own actions (a session policy), not the member role's union of every rule's. Undefined for trailguard's own
 * account, and for a rule that makes no AWS call in the event's account (a notify-only alert needs no role).
 */
async function memberAccessFor(rule: AnyRule, event: CloudTrailEvent, region: string, deps: RunDeps): Promise<AccountAccess | undefined> {
  const access = accountAccess(deps.config.organization, event.account, rule, { region: deps.config.region ?? region, endpoint: deps.config.endpoint });
  if (access) await access.credentials();
  return access;
}

function errorRecord(rule: AnyRule | undefined, error: AwsCallError): RecordError {
  const permission = error.kind === 'denied' ? (rule?.permissions[error.api] ?? RUNNER_PERMISSIONS[error.api] ?? error.api) : undefined;
  return {
    kind: error.kind,
    code: error.code,
    api: error.api,
    ...(permission ? { permission } : {}),
    message: error.kind === 'denied'
      ? (error.api === 'STS.AssumeRole' ? notAssumable(error) : `${error.api} on ${error.resource} was denied: the role needs ${permission}, or an SCP or resource policy blocks it`)
      : error.message,
  };
}

/** "role X not assumable in account Y": the member account has no member stack, or its trust does not admit this function. */
function notAssumable(error: AwsCallError): string {
  const [, , , , account = 'unknown', resource = ''] = error.resource.split(':');
  const role = resource.replace(/^role\//, '');
  return `role ${role} not assumable in account ${account}: sts:AssumeRole on ${error.resource} was denied (${error.code}); deploy the member stack in that account, or check that its trust admits this function's role`;
}

function concludeFromError(rule: AnyRule | undefined, error: unknown): Conclusion {
  if (error instanceof ParseError) {
    return conclude('failed', `the event could not be read: ${error.message}`, {
      error: { kind: 'parse', code: 'ParseError', message: error.message },
    });
  }
  if (error instanceof AwsCallError) {
    const record = errorRecord(rule, error);
    if (error.kind === 'gone') {
      return conclude('ignored', `${error.resource} no longer exists (${error.code} from ${error.api})`, { error: record });
    }
    const retry = error.kind === 'transient' ? '; retried by Lambda/EventBridge' : '';
    return conclude('failed', `${record.message}${retry}`, { error: record });
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return conclude('failed', `unexpected error: ${message.slice(0, 300)}`, {
    error: { kind: 'internal', code: error instanceof Error ? error.name : 'Unknown', message: message.slice(0, 300) },
  });
}

function eventIdOf(input: unknown, event: CloudTrailEvent | undefined): string {
  if (event) return event.detail.eventId ?? event.id;
  if (input && typeof input === 'object') {
    const candidate = (input as { id?: unknown; eventID?: unknown }).id ?? (input as { eventID?: unknown }).eventID;
    if (typeof candidate === 'string' && candidate !== '') return candidate;
  }
  // Even an unreadable event gets its own id: records of different events must not all read "unknown".
  return contentEventId(input);
}

async function finish(
  rule: AnyRule | undefined,
  input: unknown,
  event: CloudTrailEvent | undefined,
  conclusion: Conclusion,
  deps: RunDeps,
  started: number,
  trigger: Trigger,
): Promise<RemediationRecord> {
  const detail = event?.detail;
  const draft: RemediationRecord = {
    rule: rule?.id ?? null,
    outcome: conclusion.outcome,
    severity: conclusion.severity ?? (conclusion.outcome === 'failed' ? 'HIGH' : null),
    mode: deps.mode,
    trigger,
    eventId: eventIdOf(input, event),
    eventName: detail?.eventName ?? null,
    eventSource: detail?.eventSource ?? null,
    eventTime: detail?.eventTime ?? null,
    errorCode: detail?.errorCode ?? null,
    account: event?.account ?? null,
    region: detail?.awsRegion ?? event?.region ?? null,
    actor: detail ? actorLabel(detail.actor) : null,
    actorType: detail ? (detail.actor.type === 'other' ? detail.actor.rawType : detail.actor.type) : null,
    sourceIp: detail?.sourceIp ?? null,
    userAgent: detail?.userAgent ?? null,
    resources: conclusion.resources,
    actions: conclusion.actions,
    reason: conclusion.reason,
    exemptions: conclusion.exemptions,
    error: conclusion.error,
    notification: { status: 'not-needed' },
    durationMs: 0,
    exposureMs: null,
  };
  // The fix was verified when the conclusion was reached: the exposure window ends here, not after notifying.
  const fixedAt = deps.now();
  const exposure = exposureOf(draft, fixedAt);
  // No figure from an implausible event time, and the operator is told why, in the record and the notification.
  const told = 'implausible' in exposure ? { ...draft, reason: `${draft.reason}; no exposure figure: ${exposure.implausible}` } : draft;
  const notification = await notifyFor(rule, told, deps);
  const record: RemediationRecord = {
    ...told,
    notification,
    durationMs: Math.max(0, Math.round(deps.now() - started)),
    exposureMs: 'ms' in exposure ? exposure.ms : null,
  };
  deps.write(record);
  return record;
}

async function notifyFor(rule: AnyRule | undefined, record: RemediationRecord, deps: RunDeps): Promise<NotificationStatus> {
  if (!rule || !NOTIFIED_OUTCOMES.has(record.outcome)) return { status: 'not-needed' };
  if (record.error?.kind === 'transient') return { status: 'deferred', reason: 'transient error: the retry will notify' };
  if (!deps.notify) return { status: 'skipped', reason: deps.notifySkipReason ?? 'no SNS topic configured' };
  try {
    const { position, windowEnd } = await burstPosition(rule, record, deps);
    if (position === 'suppressed') {
      const { maxPerWindow, windowMinutes } = deps.config.reliability.digest;
      return { status: 'suppressed', reason: `burst: more than ${maxPerWindow} ${rule.id} notifications for account ${record.account ?? 'unknown'} within ${windowMinutes} min; this one is in the remediation log only` };
    }
    const notification = position === 'first-over'
      ? buildBurstNotification(record, deps.config.reliability.digest, new Date(windowEnd).toISOString())
      : buildNotification(record, rule.message(record));
    const messageId = await deps.notify(notification);
    return position === 'first-over' ? { status: 'sent', messageId, burst: true } : { status: 'sent', messageId };
  } catch (error) {
    // The remediation stands; the lost notification is in the record (and the log) instead.
    const classified = classifyAwsError(error, 'SNS.Publish', deps.config.topicArn ?? 'topic');
    return { status: 'failed', error: `${classified.kind}: ${classified.code}` };
  }
}

/**
 * Where this notification falls in its rule's digest window: within the limit, the first one over it
 * (which becomes the burst notice), or past it (log only). CRITICAL ones are never held back, and a
 * store that cannot count fails open: a person is told rather than not.
 */
async function burstPosition(rule: AnyRule, record: RemediationRecord, deps: RunDeps): Promise<{ readonly position: 'normal' | 'first-over' | 'suppressed'; readonly windowEnd: number }> {
  const { maxPerWindow, windowMinutes } = deps.config.reliability.digest;
  const windowMs = windowMinutes * 60_000;
  const start = Math.floor(deps.now() / windowMs) * windowMs;
  const windowEnd = start + windowMs;
  // A fix that did not land (failed) must reach a person whatever the noise, as must anything CRITICAL.
  if (!deps.store || record.severity === 'CRITICAL' || record.outcome === 'failed' || rule.neverDigested) return { position: 'normal', windowEnd };
  // Per account too: one account's Terraform apply must not silence another account's alerts (org mode).
  const count = await deps.store.addToWindow(`notifications#${rule.id}#${record.account ?? 'unknown'}`, start, 1, start + 2 * windowMs).catch(() => 0);
  if (count <= maxPerWindow) return { position: 'normal', windowEnd };
  return { position: count === maxPerWindow + 1 ? 'first-over' : 'suppressed', windowEnd };
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
