/**
 * Counting rules (issue 20): signals no single event shows. A read of one secret is routine; forty distinct secrets
 * read by one principal in ten minutes is the finding. A counting rule names what one event counts (its items: the
 * secret ids, the parameter names) and for whom (the principal), and this module keeps the tally in the state table:
 * per principal and account, distinct items over a sliding window (estimated from two fixed windows, as the sign-in
 * counter does), one alert per window, with the count and the window's first and latest items.
 */
import { createHash } from 'node:crypto';
import type { AlertRuleId, Config } from '../config.js';
import { eventTimeMs } from '../events/normalize.js';
import type { EventPattern } from '../events/pattern.js';
import type { Actor } from '../events/schema.js';
import { ParseError } from '../errors.js';
import {
  alert,
  compliant,
  notApplicable,
  type Decision,
  type EventContext,
  type ResourceRef,
  type Severity,
  type WindowCounter,
  type WindowFirst,
} from '../rule.js';
import { terminalValue } from '../safe-text.js';
import { alertRule, type AlertRule } from './alert-rule.js';
import { claimWindowAlert, tallyInWindow, type WindowTally } from './window-count.js';

/** The settings every counting rule has: the threshold of distinct items and the window they are counted in. */
export interface CountingSettings {
  readonly enabled: boolean;
  readonly ignoreServiceLinkedRoles: boolean;
  readonly threshold: number;
  readonly windowMinutes: number;
  /** Calls of the pattern the operator left uncounted (by eventName). */
  readonly notCounted: readonly string[];
}

/** What one event counts, or a decision that needs no count (a catch-all read is the finding by itself). */
export type Counted =
  | { readonly kind: 'items'; readonly items: readonly string[] }
  | { readonly kind: 'decided'; readonly decision: (resources: readonly ResourceRef[]) => Decision };

/** The principal counted: an IAM user, or the role behind a session (every session of a role counts as one). */
export interface Principal {
  /** Keys the counters, and names the exemption: a role's or user's ARN, never a bare name. */
  readonly arn: string;
  /** The session's own ARN, when it is a role session, for the message. */
  readonly session: string | undefined;
  readonly account: string;
}

export interface CountingFacts {
  /** The principal as a resource: an exemption names its ARN (globs allowed), so automation is exempt by role. */
  readonly resources: readonly ResourceRef[];
  readonly principal: Principal;
  readonly counted: Counted;
  readonly timeMs: number;
  /** The call, as CloudTrail names it: `notCounted` names calls so. */
  readonly eventName: string;
}

/** The tally around one event. */
export type Tally =
  | { readonly counted: false }
  | {
      readonly counted: true;
      readonly tally: WindowTally;
      readonly first: string;
      readonly latest: string;
      readonly alerts: boolean;
      readonly newItems: number;
    };

// The principal's ARN as a counter key: hashed, so a 2,048-character ARN or a secret name fits DynamoDB's key.
const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);

/**
 * Who made the call, as counted: a role session counts as its role (a Lambda's sessions change names; the role is
 * what an operator exempts), an IAM user as itself, root as the account's root. Undefined when CloudTrail names no
 * one (an AWS service, an anonymous call): nothing to count for.
 */
export function principalOf(actor: Actor, account: string | undefined): Principal | undefined {
  const where = account ?? actor.accountId;
  if (!where) return undefined;
  switch (actor.type) {
    case 'AssumedRole':
      return actor.roleArn
        ? { arn: actor.roleArn, session: actor.arn, account: where }
        : actor.arn
          ? { arn: actor.arn, session: undefined, account: where }
          : undefined;
    case 'IAMUser':
    case 'Root':
    case 'FederatedUser':
      return actor.arn ? { arn: actor.arn, session: undefined, account: where } : undefined;
    default:
      return undefined;
  }
}

/**
 * Adds the event's items to the principal's distinct tally. An item counts once per fixed window (a marker per item
 * and window); one also seen in the window before is a repeat, counted in both windows, so the sliding estimate
 * takes it once: `previous × overlap + current − repeats × overlap`. Automation that reads the same ten secrets
 * every few minutes stays at ten across the boundary; forty new ones are forty. Then the window's first item, and
 * whether this event claims the window's one alert.
 */
export async function tallyDistinct(
  add: WindowCounter,
  keepFirst: WindowFirst,
  key: string,
  items: readonly string[],
  timeMs: number,
  windowMs: number,
  threshold: number,
): Promise<Extract<Tally, { counted: true }>> {
  const windowStart = Math.floor(timeMs / windowMs) * windowMs;
  const unique = [...new Set(items)];
  const marks = await Promise.all(
    unique.map(async (item) => {
      const itemKey = `${key}#item#${digest(item)}`;
      const first = (await add(itemKey, windowStart, 1, windowStart + 2 * windowMs)) === 1;
      const repeat = first && (await add(itemKey, windowStart - windowMs, 0, windowStart + windowMs)) > 0;
      return { first, repeat };
    }),
  );
  const newItems = marks.filter((m) => m.first).length;
  const counter = `${key}#distinct`;
  const [counted, repeats] = await Promise.all([
    tallyInWindow(add, counter, timeMs, windowMs, newItems),
    add(`${key}#repeat`, windowStart, marks.filter((m) => m.repeat).length, windowStart + 2 * windowMs),
  ]);
  const overlap = 1 - (timeMs - windowStart) / windowMs;
  const tally = { ...counted, estimate: Math.max(counted.current, Math.floor(counted.previous * overlap + counted.current - repeats * overlap)) };
  const latest = unique[unique.length - 1] ?? '';
  const first = await keepFirst(counter, windowStart, unique[0] ?? '', windowStart + 2 * windowMs);
  // No new item leaves the estimate where it was, so past the threshold the window's claim is already taken, unless
  // the run that took it failed before claiming (a redelivery marks nothing new): claiming still is what alerts then.
  const alerts = await claimWindowAlert(add, counter, tally, windowMs, threshold);
  return { counted: true, tally, first, latest, alerts, newItems };
}

/** What a counting rule declares; `countingRule` makes it a notify-only rule on the alert layer. */
export interface CountingSpec<Settings extends CountingSettings, Finding extends string> {
  readonly id: AlertRuleId;
  readonly pattern: EventPattern;
  /** The burst finding, then the finding of an event counted without a state store, then any the rule decides itself. */
  readonly findings: readonly [burst: Finding, uncounted: Finding, ...others: Finding[]];
  settings(config: Config): Settings;
  /** What the event counts (validated: an unreadable request is a ParseError naming the field), or a decision. */
  count(context: EventContext): Counted;
  /** What is counted, plural, for messages ("secrets read", "parameters decrypted"). */
  readonly noun: string;
  /** The severity of a burst. */
  readonly severity: Severity;
  title(finding: Finding | undefined): string;
  checkNext(finding: Finding | undefined, principal: string): readonly string[];
  /** Counts failed calls (denied probes) instead of leaving them out: they reach `count` like any event. */
  readonly failedCalls?: true;
}

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 16);
// Item names come from the event: a person reads them, so control characters never reach the text.
const shown = (item: string) => terminalValue(item.length > 200 ? `${item.slice(0, 200)}…` : item);

/** A counting rule: every event adds its new items to its principal's tally; one alert per window at the threshold. */
export function countingRule<Settings extends CountingSettings, Finding extends string>(
  spec: CountingSpec<Settings, Finding>,
): AlertRule<CountingFacts, Tally, Record<string, never>, Settings, Finding> {
  const [burst, uncounted] = spec.findings;
  const rule = alertRule<CountingFacts, Tally, Record<string, never>, Settings, Finding>({
    id: spec.id,
    pattern: spec.pattern,
    findings: spec.findings,
    settings: spec.settings,
    parse: (context) => countingFacts(spec.count, context),
    decide: (facts, state, settings) => decideCount(spec, facts, state, settings, burst, uncounted),
    reads: {
      permissions: {},
      clients: () => ({}),
      inspect: async (facts, _clients, context, settings) => {
        const { countInWindow: add, firstInWindow: keepFirst } = context;
        if (!add || !keepFirst || facts.counted.kind !== 'items' || facts.counted.items.length === 0) return { counted: false };
        if (settings.notCounted.includes(facts.eventName)) return { counted: false };
        const key = `${digest(facts.principal.account)}#${digest(facts.principal.arn)}`;
        return tallyDistinct(add, keepFirst, key, facts.counted.items, facts.timeMs, settings.windowMinutes * 60_000, settings.threshold);
      },
    },
    title: (_record, finding) => spec.title(finding),
    checkNext: (record, finding) => spec.checkNext(finding, record.resources[0]?.id ?? 'the principal'),
  });
  return spec.failedCalls ? { ...rule, decidesFailedCalls: true } : rule;
}

/** The facts of a counting rule's event: who is counted, and what. */
function countingFacts(count: (context: EventContext) => Counted, context: EventContext): CountingFacts {
  const { record, event } = context;
  const timeMs = eventTimeMs(record.eventTime);
  if (timeMs === undefined) throw new ParseError('detail.eventTime', 'expected an ISO time', event.id);
  const principal = principalOf(record.actor, event.account);
  if (!principal) {
    // An AWS service, or an anonymous caller: no one whose credentials could be stolen, so nothing to count for.
    const why = `the call names no principal to count for (${record.actor.type === 'other' ? record.actor.rawType : record.actor.type}, no ARN)`;
    return {
      resources: [],
      principal: { arn: '', session: undefined, account: '' },
      counted: { kind: 'decided', decision: () => notApplicable(why) },
      timeMs,
      eventName: record.eventName,
    };
  }
  const type = principal.arn.includes(':role/') ? 'AWS::IAM::Role' : principal.arn.includes(':user/') ? 'AWS::IAM::User' : 'AWS::IAM::Principal';
  return { resources: [{ type, id: principal.arn }], principal, counted: count(context), timeMs, eventName: record.eventName };
}

function decideCount<Settings extends CountingSettings, Finding extends string>(
  spec: CountingSpec<Settings, Finding>,
  facts: CountingFacts,
  state: Tally | undefined,
  { threshold, windowMinutes, notCounted }: Settings,
  burst: Finding,
  uncounted: Finding,
): Decision {
  // Left out by the operator (the pattern still delivers it): neither counted nor decided on its own.
  if (notCounted.includes(facts.eventName)) return compliant(`${terminalValue(facts.eventName)} is not counted (${spec.id}.notCounted)`, facts.resources);
  if (facts.counted.kind === 'decided') return facts.counted.decision(facts.resources);
  const items = facts.counted.items;
  const who = terminalValue(facts.principal.session ?? facts.principal.arn);
  const these = items.slice(0, 3).map(shown).join(', ') + (items.length > 3 ? ` and ${items.length - 3} more` : '');
  if (items.length === 0) return compliant(`${who}: no ${spec.noun} in this call`, facts.resources);
  if (!state?.counted)
    // Replay and backtests have no store: each counted event is reported rather than none, so a burst is never hidden.
    return alert(
      `${who}: ${spec.noun}: ${these}; not counted (no state store, as in replay): every such call is reported here, a deployment alerts once when ${threshold} distinct arrive within ${windowMinutes} min`,
      'LOW',
      facts.resources,
      uncounted,
    );
  const window = `the ${windowMinutes} min up to ${clock(facts.timeMs)} UTC`;
  const estimate = state.tally.estimate;
  if (!state.alerts) {
    const already = estimate >= threshold ? '; already alerted in this window (one alert per window)' : '';
    return compliant(
      `${who}: ${estimate} distinct ${spec.noun} in ${window} (alert at ${threshold}; ${state.newItems} new in this call)${already}`,
      facts.resources,
    );
  }
  return alert(
    `${who}: ${estimate} distinct ${spec.noun} within ${window} (threshold ${threshold}); first ${shown(state.first)}, latest ${shown(state.latest)}; one alert per window`,
    spec.severity,
    facts.resources,
    burst,
  );
}
