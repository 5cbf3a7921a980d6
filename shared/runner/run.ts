/**
 * The runner's straight path, one rule over one event (or over facts a sweep or schedule found): envelope →
 * guards → claim → parse → exemptions → locks → inspect → decide → breaker → intent → act → verify → record →
 * notify. Each step past the decision is a module of its own: claim.ts (idempotency), intent.ts (writes whose
 * response was lost), locks.ts, breaker.ts, act.ts, record.ts, notify.ts and digest.ts; conclusion.ts maps a
 * decision or an error to what the record says. A run never throws: every error becomes the record's outcome.
 */
import type { AccountAccess, ClientOptions } from '../aws/client-options.js';
import { accountAccess } from '../aws/sts.js';
import { findExemption, type ExemptionMatch } from '../exemptions.js';
import { matchesPattern } from '../events/pattern.js';
import { CLOUDTRAIL_DETAIL_TYPES, parseEnvelope, toEnvelopeJson, type CloudTrailEvent } from '../events/schema.js';
import type { RemediationRecord } from '../remediation-log.js';
import { whereOf, type AnyRule, type EventContext, type FindingContext, type ResourceRef, type RuleFacts, type RunContext } from '../rule.js';
import { actAndVerify } from './act.js';
import { assertNever } from './assert-never.js';
import { breakerOf, checkBreaker, heldByBreaker } from './breaker.js';
import { claimThen, settleClaim, type ClaimRef } from './claim.js';
import { conclude, concludeFromError, fromDecision, type Conclusion } from './conclusion.js';
import { beforeDeadline, settleWithinMargin } from './deadline.js';
import type { RunDeps, Trigger } from './deps.js';
import { keptEarlier, landedConclusion, readBackIntent, recordIntent, type DoneEarlier } from './intent.js';
import { lockNamesOf, withResourceLocks } from './locks.js';
import { eventOrigin, findingOrigin, type Finding } from './origin.js';
import { finish, recordDraft } from './record.js';
import { selfCallOf } from './self-calls.js';

export type { RunDeps, Trigger, WallClock } from './deps.js';
export type { Finding } from './origin.js';
export { breakerOf } from './breaker.js';
export { LOCK_WORK_BUDGET_MS } from './locks.js';

const CLOUDTRAIL_DETAIL_TYPE_SET: ReadonlySet<string> = new Set(Object.values(CLOUDTRAIL_DETAIL_TYPES));

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
    return finish(rule, eventOrigin(input, event), concluded, deps, started, withheld);
  });
}

/**
 * Runs a rule on a finding, facts that did not come from a CloudTrail call (the sweep finding a public bucket, a
 * scheduled enforcement check): the same claim, exemptions, inspect, decide, breaker, act, verify, record and
 * notification as an event. Its record names the finding, never an invented call or caller.
 */
export async function runFinding(rule: AnyRule, finding: Finding, deps: RunDeps): Promise<RemediationRecord> {
  const started = deps.now();
  const claim: ClaimRef = { key: undefined };
  let conclusion: Conclusion;
  try {
    const settings = rule.settings(deps.config);
    const context: FindingContext = { account: finding.account, region: finding.region };
    conclusion = settings.enabled
      ? await beforeDeadline(deps, () =>
          claimThen(rule, finding.id, deps, claim, () => decideFacts(rule, finding.facts, context, deps, finding.trigger, claim)),
        )
      : conclude('ignored', `rule ${rule.id} is disabled in configuration`);
  } catch (error) {
    conclusion = concludeFromError(rule, error);
  }
  const concluded = conclusion;
  return settleWithinMargin(deps, async () => {
    const withheld = await settleClaim(claim, concluded, deps);
    return finish(rule, findingOrigin(finding), concluded, deps, started, withheld);
  });
}

/** Records an event that no rule's pattern matches (replay only): `ignored`, or `failed` if it does not parse. */
export async function runUnmatched(input: unknown, deps: RunDeps): Promise<RemediationRecord> {
  return unmatchedRecord(input, deps);
}

/**
 * runUnmatched without the promise: most of a backtest's events match no rule, and replay builds their records
 * synchronously. The record is `finish`'s for no rule (no notification, no exposure, no controls or commands),
 * written out as one literal in its key order: test/shared/runner/unmatched.test.ts holds the two to the same JSON.
 * `json`: the input's envelope, when the caller has it already (replay's routing made it to match the patterns).
 */
export function unmatchedRecord(input: unknown, deps: RunDeps, json: unknown = toEnvelopeJson(input)): RemediationRecord {
  const started = deps.now();
  let event: CloudTrailEvent | undefined;
  let conclusion: Conclusion;
  try {
    event = parseEnvelope(json);
    conclusion = conclude('ignored', `no rule's pattern matches ${event.source} ${event.detail.eventName}`);
  } catch (error) {
    conclusion = concludeFromError(undefined, error);
  }
  const origin = eventOrigin(input, event);
  const record = recordDraft(null, origin, conclusion, deps.mode, Math.max(0, Math.round(deps.now() - started)));
  deps.write(record);
  return record;
}

/** Guards (forged source, pattern, disabled, trailguard's own call) → claim → a failed call's decision, or the facts'. */
async function decideEvent(rule: AnyRule, json: unknown, event: CloudTrailEvent, deps: RunDeps, claim: ClaimRef): Promise<Conclusion> {
  const record = event.detail;
  const store = deps.store;
  const context: EventContext = store
    ? {
        event,
        record,
        countInWindow: (counter, start, count, expires) => store.addToWindow(`rule#${rule.id}#${counter}`, start, count, expires),
        firstInWindow: (counter, start, value, expires) => store.keepFirst(`rule#${rule.id}#${counter}`, start, value, expires),
      }
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
  return claimThen(rule, event.detail.eventId ?? event.id, deps, claim, async () => {
    if (record.errorCode && !rule.decidesFailedCalls) {
      const decision = rule.failedCall?.(record, settings, context);
      if (decision) return fromDecision(decision, [], deps.mode, []);
      return conclude('ignored', `the call failed (${record.errorCode}): nothing changed`);
    }

    return decideFacts(rule, rule.parse(context) as RuleFacts, context, deps, 'event', claim);
  });
}

/** Exemptions → inspect → decide → breaker → act → verify, for facts from an event, a sweep or a schedule. */
async function decideFacts(
  rule: AnyRule,
  facts: RuleFacts,
  context: RunContext,
  deps: RunDeps,
  trigger: Trigger = 'event',
  claim?: ClaimRef,
): Promise<Conclusion> {
  const today = new Date(deps.now()).toISOString().slice(0, 10);
  const exemptionOf = (resource: ResourceRef) => findExemption(deps.config.exemptions, rule.id, resource, today);
  const factExemptions = facts.resources.map(exemptionOf).filter((match) => match !== undefined);
  if (facts.resources.length > 0 && factExemptions.length === facts.resources.length) {
    return conclude('exempt', `exempt by configuration: ${factExemptions.map((e) => `${e.resource} (${e.reason})`).join('; ')}`, {
      resources: facts.resources,
      exemptions: factExemptions,
      skipped: { why: 'exempt' },
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
async function clientsFor(rule: AnyRule, context: RunContext, deps: RunDeps): Promise<unknown> {
  switch (deps.mode) {
    case 'offline':
      return undefined;
    case 'dry-run':
    case 'live': {
      const where = whereOf(context);
      const options: ClientOptions = { region: where.region, endpoint: deps.config.endpoint, readOnly: deps.mode !== 'live' };
      const account = await memberAccessFor(rule, where.account, options.region, deps);
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
  context: RunContext,
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
  if (conclusion.plan !== 'will-remediate' || decision.kind !== 'violation') return conclusion;
  const toDo = decision.actions.filter((_, index) => actionExemptions[index] === undefined);
  // The breaker caps changes to the account's resources: a rule's calls in trailguard's own account (the
  // enforcement schedules) change nothing of the account's, so a large launch does not trip it by itself.
  const ownApis = new Set(rule.ownAccountApis ?? []);
  const hold = await checkBreaker(breakerOf(rule.id, trigger), toDo.filter((action) => !ownApis.has(action.api)).length, deps);
  if (hold) return heldByBreaker(conclusion, hold);
  const kept = keptEarlier(earlier, toDo);
  await recordIntent(rule, claim, [...kept.map((done) => done.action), ...toDo], conclusion, context, clients, deps);
  return actAndVerify(
    rule,
    toDo,
    clients,
    conclusion,
    kept.map((done) => done.record),
    claim,
    context,
  );
}

/**
 * Org mode: the member account the event is from, with the member role's credentials, assumed now so that a
 * role that cannot be assumed ends the run here, named, before any read. The session is limited to the rule's
 * own actions (a session policy), not the member role's union of every rule's. Undefined for trailguard's own
 * account, and for a rule that makes no AWS call in the event's account (a notify-only alert needs no role).
 */
async function memberAccessFor(rule: AnyRule, account: string | undefined, region: string, deps: RunDeps): Promise<AccountAccess | undefined> {
  const access = accountAccess(deps.config.organization, account, rule, { region: deps.config.region ?? region, endpoint: deps.config.endpoint });
  if (access) await access.credentials();
  return access;
}
