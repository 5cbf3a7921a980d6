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
import { buildBurstNotification, buildNotification, NOTIFIED_OUTCOMES, notificationFailure, type Notify } from '../notifier.js';
import type {
  ActionRecord,
  NotificationStatus,
  Outcome,
  RecordError,
  RemediationRecord,
} from '../remediation-log.js';
import type { AnyRule, Decision, EventContext, Message, PlannedAction, ResourceRef, RuleFacts, Severity } from '../rule.js';
import { assertNever } from './assert-never.js';
import { beforeDeadline, claimLockMs, settleWithinMargin } from './deadline.js';
import { classifyAwsError, mayHaveLanded } from '../aws/errors.js';
import type { Intent, StateStore } from '../state/store.js';
import { isReadCommand } from '../aws/client-options.js';
import { randomUUID } from 'node:crypto';
import { performAction, verifyAction } from '../actions/perform.js';
import { reversalLines } from '../actions/reversal.js';
import type { Verification } from '../actions/action.js';
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
/**
 * In Lambda, the time an invocation keeps for its own work under a resource lock (inspect, breaker, act, verify,
 * each possibly retried): it waits for a lock another invocation holds until its deadline less this, then is retried.
 */
export const LOCK_WORK_BUDGET_MS = 10_000;
/** Without a deadline (replay, CLI), how long a run waits for a resource lock another run holds. */
const LOCK_WAIT_MS = 30_000;
/** Polls of a held lock back off from 100 ms to 1 s: a holder normally frees it within a second or two. */
const LOCK_POLL_FIRST_MS = 100;
const LOCK_POLL_MAX_MS = 1_000;

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
  readonly finding: string | null;
}

const conclude = (outcome: Outcome, reason: string, extra: Partial<Conclusion> = {}): Conclusion => ({
  outcome,
  reason,
  severity: null,
  resources: [],
  actions: [],
  exemptions: [],
  error: null,
  finding: null,
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
    const withheld = await settleClaim(claim, concluded, deps);
    return finish(rule, input, event, concluded, deps, started, 'event', withheld);
  });
}

/**
 * The event's claim, once taken: its key and token, and the intent in it while a write of that intent may have
 * landed unseen (an earlier try's, until read back; this try's, from before its first write). A transient
 * failure gives the claim back with the intent only while it is set here.
 */
interface ClaimRef {
  key: string | undefined;
  token?: string;
  intent?: Intent | undefined;
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
    const withheld = await settleClaim(claim, concluded, deps);
    return finish(rule, event, event, concluded, deps, started, trigger, withheld);
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

/** Attempts at concluding a claim before telling, 100 ms then 200 ms apart (within the settle margin in Lambda). */
const CONCLUDE_ATTEMPTS = 3;
const CONCLUDE_RETRY_MS = 100;

/**
 * Settles the claim before anything is told. A transient failure gives it back so the retry can act (with the
 * intent while a write of it may have landed). Anything else concludes it first: a redelivery is then a
 * duplicate, never a second page. Returns why this run must not tell, when its lapsed claim was taken over.
 */
async function settleClaim(claim: ClaimRef, conclusion: Conclusion, deps: RunDeps): Promise<string | undefined> {
  const { key, token } = claim;
  if (!key || !token || !deps.store) return undefined;
  if (conclusion.error?.kind === 'transient') {
    // Best effort: if this write is lost, the lock lapses and the retry takes the claim over with its intent.
    await deps.store.releaseEvent(key, token, claim.intent !== undefined).catch(() => undefined);
    return undefined;
  }
  const keepMs = deps.config.reliability.idempotencyHours * 3_600_000;
  for (let attempt = 1; ; attempt += 1) {
    try {
      if (await deps.store.concludeEvent(key, token, conclusion.outcome, deps.now(), keepMs)) return undefined;
      return `the claim on ${key} lapsed and another invocation took it over: that one records and tells this event`;
    } catch {
      // Still unsettled after the attempts: tell anyway. A page told twice (should the event be redelivered)
      // is better than a fix nobody hears of.
      if (attempt === CONCLUDE_ATTEMPTS) return undefined;
      await sleep(CONCLUDE_RETRY_MS * attempt);
    }
  }
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
  // The member role and the clients come before any lock: AssumeRole can take seconds under throttling, and a
  // lock is held only for the decision and its write, or events queued behind it run out of time.
  let clients: unknown;
  let locks: readonly string[];
  try {
    clients = await clientsFor(rule, context, deps);
    locks = await lockNamesOf(rule, facts, context, clients, deps);
  } catch (error) {
    // The record and the alert still name what the event was about (the deleted bucket, the stopped trail)
    // when the member role or a read fails before any decision; a transient error stays one.
    return { ...concludeFromError(rule, error), resources: facts.resources };
  }
  return withResourceLocks(locks, deps, () => inspectAndAct(rule, facts, context, clients, deps, trigger, claim, factExemptions, exemptionOf));
}

/** Offline: none. Dry-run and live: the rule's clients, in org mode with the member account's role assumed. */
async function clientsFor(rule: AnyRule, { event, record }: EventContext, deps: RunDeps): Promise<unknown> {
  switch (deps.mode) {
    case 'offline':
      return undefined;
    case 'dry-run':
    case 'live': {
      const options: ClientOptions = { region: record.awsRegion || event.region, endpoint: deps.config.endpoint, readOnly: deps.mode !== 'live' };
      const account = await memberAccessFor(rule, event, options.region, deps);
      return rule.clients(account ? { ...options, account } : options);
    }
    default:
      return assertNever(deps.mode);
  }
}

/** Inspect → decide → breaker → act → verify; live, under the resources' locks (see `withResourceLocks`). */
async function inspectAndAct(
  rule: AnyRule,
  facts: RuleFacts,
  context: EventContext,
  clients: unknown,
  deps: RunDeps,
  trigger: Trigger,
  claim: ClaimRef | undefined,
  factExemptions: readonly ExemptionMatch[],
  exemptionOf: (resource: ResourceRef) => ExemptionMatch | undefined,
): Promise<Conclusion> {
  const settings = rule.settings(deps.config);
  let state: unknown;
  let earlier: readonly DoneEarlier[] = [];
  switch (deps.mode) {
    case 'offline':
      break;
    case 'dry-run':
    case 'live': {
      try {
        // An earlier try recorded what it was about to do, then failed transiently: its writes may have landed.
        const intent = deps.mode === 'live' ? claim?.intent : undefined;
        if (claim && intent) {
          earlier = await readBackIntent(rule, claim, intent, context, clients, deps);
          if (earlier.length === intent.actions.length) return landedConclusion(intent, earlier, factExemptions);
        }
        state = await rule.inspect(facts, clients, context, settings);
      } catch (error) {
        // As for the member role (decideFacts): the record names the resource; a transient error stays one.
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
  // A half-done earlier try: what it did stays in the intent and the record (with its `previous`), unless re-planned.
  const planned = new Set(toDo.map(actionKey));
  const kept = earlier.filter((done) => !planned.has(actionKey(done.action)));
  await recordIntent(rule, claim, [...kept.map((done) => done.action), ...toDo], conclusion, context, clients, deps);
  return actAndVerify(rule, toDo, clients, conclusion, kept.map((done) => done.record), claim, context);
}

/** The Region an action runs in unless its resource names its own: the event's. */
const regionOfEvent = ({ event, record }: EventContext): string => record.awsRegion || event.region;

/** Performs one action through its action type (rules that declare them), else the rule's own `act`. */
async function performOf(rule: AnyRule, action: PlannedAction, clients: unknown, context: EventContext): Promise<void> {
  if (rule.actions || !rule.act) return performAction(rule.actions ?? [], action, clients, regionOfEvent(context));
  return rule.act(action, clients);
}

/** Reads back one action through its action type, else the rule's own `verify`. */
async function verifyOf(rule: AnyRule, action: PlannedAction, clients: unknown, context: EventContext): Promise<Verification> {
  if (rule.actions || !rule.verify) return verifyAction(rule.actions ?? [], action, clients, regionOfEvent(context));
  return rule.verify(action, clients);
}

/** An action of an earlier try's intent that reads back as done: kept in this try's intent and record. */
interface DoneEarlier {
  readonly action: PlannedAction;
  readonly record: ActionRecord;
}

const actionKey = (action: PlannedAction): string => JSON.stringify([action.api, action.resource.id, action.params]);

/**
 * Writes what is about to be done into the event's claim before the first write: a write can land with its
 * response lost (the try then fails transiently), and the retry must still record and tell that fix. First
 * the resources' fix markers name this intent: a retry of an older intent on them (another event's, whose
 * write may never have landed) is superseded, so it never claims, or pages, the fix this run makes.
 */
async function recordIntent(
  rule: AnyRule,
  claim: ClaimRef | undefined,
  actions: readonly PlannedAction[],
  planned: Conclusion,
  context: EventContext,
  clients: unknown,
  deps: RunDeps,
): Promise<void> {
  const store = deps.store;
  if (!store || !claim?.key || !claim.token) return;
  const intent: Intent = {
    id: randomUUID(), actions, reason: planned.reason.replace(/; will remediate$/, ''), severity: planned.severity,
    resources: planned.resources, at: new Date(deps.now()).toISOString(),
  };
  const keepMs = deps.config.reliability.idempotencyHours * 3_600_000;
  const markers = await fixMarkersOf(rule, actions, context, clients);
  await Promise.all(markers.map((name) => store.markFix(name, intent.id, deps.now(), keepMs)));
  if (!(await store.recordIntent(claim.key, claim.token, intent))) {
    // The claim lapsed and another invocation took it: that one decides; two must never act at once.
    throw new AwsCallError('DynamoDB.UpdateItem', claim.key, 'transient', 'ClaimLost', `the claim on ${claim.key} lapsed and another invocation took it: this one does not act`);
  }
  claim.intent = intent;
}

/** The fix markers of the resources actions change: named as their locks are, so every form of a name meets. */
async function fixMarkersOf(rule: AnyRule, actions: readonly PlannedAction[], context: EventContext, clients: unknown): Promise<readonly string[]> {
  const keys = await Promise.all(actions.map((action) => rule.lockKey?.(action.resource, context, clients) ?? defaultLockKey(action.resource, context)));
  return [...new Set(keys.map((key) => `${rule.id}#${key}`))].sort();
}

/**
 * The retry of a try that recorded an intent: the intended actions that read back as done now. None when the
 * intent is superseded (another invocation acted on one of its resources since: its fix is that one's to tell)
 * or nothing landed; the claim then no longer keeps the intent, and the retry decides afresh. A read-back that
 * cannot be made (throttled) is thrown: retried again, the intent kept.
 */
async function readBackIntent(rule: AnyRule, claim: ClaimRef, intent: Intent, context: EventContext, clients: unknown, deps: RunDeps): Promise<readonly DoneEarlier[]> {
  const store = deps.store;
  if (!store) return [];
  const markers = await fixMarkersOf(rule, intent.actions, context, clients);
  const latest = await Promise.all(markers.map((name) => store.lastFixOf(name)));
  const done: DoneEarlier[] = [];
  if (latest.every((id) => id === intent.id)) {
    for (const action of intent.actions) {
      let verification: { ok: boolean; detail: string };
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
function landedConclusion(intent: Intent, done: readonly DoneEarlier[], exemptions: readonly ExemptionMatch[]): Conclusion {
  return conclude('remediated', `${intent.reason}; remediated and verified: the write of an earlier try (${intent.at}) landed, this retry read it back`, {
    severity: intent.severity, resources: intent.resources, actions: done.map((d) => d.record), exemptions,
  });
}

/** True when a rule declares a write; notify-only rules never act, so they need no resource lock. */
function mayWrite(rule: AnyRule): boolean {
  return Object.keys(rule.permissions).some((api) => !isReadCommand(api.slice(api.indexOf('.') + 1)));
}

/**
 * The resource locks a run takes (live, with a store, for a rule that may write): `rule#key`, sorted and unique,
 * the key from the rule's `lockKey` or `account#region#id`. Named so, an event naming a trail by ARN waits for one
 * naming it by name, and same-named trails of other accounts or Regions do not wait at all.
 */
async function lockNamesOf(rule: AnyRule, facts: RuleFacts, context: EventContext, clients: unknown, deps: RunDeps): Promise<readonly string[]> {
  if (!deps.store || deps.mode !== 'live' || !mayWrite(rule)) return [];
  const keys = await Promise.all(facts.resources.map((resource) => rule.lockKey?.(resource, context, clients) ?? defaultLockKey(resource, context)));
  return [...new Set(keys.map((key) => `${rule.id}#${key}`))].sort();
}

function defaultLockKey(resource: ResourceRef, { event, record }: EventContext): string {
  return `${event.account ?? 'unknown-account'}#${resource.region ?? (record.awsRegion || event.region)}#${resource.id}`;
}

/**
 * Live: one decision at a time per rule and resource. Concurrent events on one resource (twenty StopLogging
 * in flight) would otherwise all read the old state and all act and page; under the lock the next one reads
 * the state the first left. Locks are taken in sorted order (no deadlock between multi-resource events); one
 * still held when the wait ends is a transient error, so the event is retried, never lost.
 */
async function withResourceLocks(names: readonly string[], deps: RunDeps, body: () => Promise<Conclusion>): Promise<Conclusion> {
  const store = deps.store;
  if (!store || names.length === 0) return body();
  const owner = randomUUID();
  const tried: string[] = [];
  try {
    for (const name of names) {
      // Freed below even if taking it failed: a lock write can land with its error (or lost response) reported.
      tried.push(name);
      await waitForLock(store, name, owner, deps);
    }
    return await body();
  } finally {
    // Only this owner's locks are freed; best effort: one that could not be freed lapses with this invocation.
    await Promise.all(tried.map((name) => store.unlockResource(name, owner).catch(() => undefined)));
  }
}

/**
 * Takes a lock, waiting while another invocation holds it: in Lambda until this invocation's deadline less its
 * own work budget (LOCK_WORK_BUDGET_MS), without a deadline for LOCK_WAIT_MS. A holder normally frees it within
 * seconds; one that died frees it when its lock lapses (the end of its invocation), polled for right then.
 */
async function waitForLock(store: StateStore, name: string, owner: string, deps: RunDeps): Promise<void> {
  const started = deps.now();
  const giveUpAt = deps.deadline === undefined ? started + LOCK_WAIT_MS : deps.deadline - LOCK_WORK_BUDGET_MS;
  let slept = 0;
  for (let pause = LOCK_POLL_FIRST_MS; ; pause = Math.min(2 * pause, LOCK_POLL_MAX_MS)) {
    // In Lambda, held until the invocation ends (as the claim): a holder that timed out blocks no longer than that.
    const attempt = await store.lockResource(name, owner, deps.now(), claimLockMs(deps, RESOURCE_LOCK_MS));
    if (attempt.kind === 'taken') return;
    const now = deps.now();
    // Slept time counts too: a clock that does not move (a test's, a replay's fixed time) still ends the wait.
    const left = Math.min(giveUpAt - now, giveUpAt - started - slept);
    if (left <= 0) {
      throw new AwsCallError('DynamoDB.PutItem', `lock#${name}`, 'transient', 'ResourceLocked',
        `another invocation is deciding on ${name} (its lock holds until ${new Date(attempt.until).toISOString()} unless freed): retried once it is done`);
    }
    // Jittered, so the runs queued behind one holder do not poll in step; never past the holder's lapse.
    const wait = Math.max(1, Math.min(left, pause * (0.5 + Math.random() / 2), attempt.until + 1 - now));
    await sleep(wait);
    slept += wait;
  }
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
      return conclude('compliant', decision.reason, { resources: decision.resources, exemptions: factExemptions, finding: decision.finding ?? null });
    case 'not-applicable':
      return conclude('ignored', decision.reason, { exemptions: factExemptions });
    case 'alert':
      return conclude('alerted', decision.reason, { severity: decision.severity, resources: decision.resources, exemptions: factExemptions, finding: decision.finding ?? null });
    case 'violation': {
      const exemptions = uniqueByResource([...factExemptions, ...actionExemptions.filter((e) => e !== undefined)]);
      const planned = decision.actions.filter((_, index) => actionExemptions[index] === undefined).map(plannedRecord);
      const base = { severity: decision.severity, resources: decision.resources, exemptions, finding: decision.finding ?? null };
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

/**
 * Live: performs each action, then reads each back. Only all-done-and-verified is `remediated`. `earlier` are
 * the actions a half-done earlier try did (read back as done): they lead the record.
 */
async function actAndVerify(
  rule: AnyRule,
  actions: readonly PlannedAction[],
  clients: unknown,
  planned: Conclusion,
  earlier: readonly ActionRecord[],
  claim: ClaimRef | undefined,
  context: EventContext,
): Promise<Conclusion> {
  const subject = planned.reason.replace(/; will remediate$/, '');
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
          ...planned, outcome: 'failed', error: errorRecord(rule, classified),
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
    let verification: { ok: boolean; detail: string };
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
  if (results.every((r) => r.verification?.gone)) {
    return { ...planned, outcome: 'ignored', actions: results, reason: `${subject}; the resource was already gone when acting` };
  }
  const byEarlier = earlier.length > 0 ? ` (${earlier.length} of ${total} actions done by an earlier try)` : '';
  return { ...planned, outcome: 'remediated', actions: results, reason: `${subject}; remediated and verified${byEarlier}` };
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
  withheld?: string,
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
  // No figure from an implausible event time, and the operator is told why, in the record and the notification.
  const told = 'implausible' in exposure ? { ...draft, reason: `${draft.reason}; no exposure figure: ${exposure.implausible}` } : draft;
  const notification = await notifyFor(rule, told, deps, withheld);
  const record: RemediationRecord = {
    ...told,
    notification,
    durationMs: Math.max(0, Math.round(deps.now() - started)),
    exposureMs: 'ms' in exposure ? exposure.ms : null,
  };
  deps.write(record);
  return record;
}

async function notifyFor(rule: AnyRule | undefined, record: RemediationRecord, deps: RunDeps, withheld?: string): Promise<NotificationStatus> {
  if (!rule || !NOTIFIED_OUTCOMES.has(record.outcome)) return { status: 'not-needed' };
  if (record.error?.kind === 'transient') return { status: 'deferred', reason: 'transient error: the retry will notify' };
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
    return position === 'first-over' ? { status: 'sent', messageId, burst: true } : { status: 'sent', messageId };
  } catch (error) {
    // The remediation stands; the lost (or maybe sent: `ambiguous`) notification is in the record and the log instead.
    return notificationFailure(error, deps.config.topicArn ?? 'topic');
  }
}

/** The rule's message, then the command that reverses each write, from its action type (as report and undo print it). */
function messageOf(rule: AnyRule, record: RemediationRecord): Message {
  const message = rule.message(record);
  return { ...message, lines: [...message.lines, ...reversalLines(rule.actions ?? [], record)] };
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
