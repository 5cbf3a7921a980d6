import type { Config } from '../../shared/config.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { HIDDEN_USER, parseSignIn, signInResources, type SignIn } from '../../shared/alerts/sign-in.js';
import { ParseError } from '../../shared/errors.js';
import { eventTimeMs } from '../../shared/events/normalize.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { alert, compliant, notApplicable, type Decision, type EventContext, type ResourceRef } from '../../shared/rule.js';
import pattern from './pattern.json' with { type: 'json' };

interface FailureFacts {
  readonly resources: readonly ResourceRef[];
  readonly signIn: SignIn;
  /** The user name counted, or undefined when CloudTrail hides it (no such user) or there is none. */
  readonly user: string | undefined;
  readonly sourceIp: string | undefined;
  readonly timeMs: number;
}

/** Failures in the event's window, per user and per source IP; undefined totals were not counted. */
type Counts = { readonly counted: false } | { readonly counted: true; readonly windowStart: number; readonly user?: number; readonly ip?: number };

type Settings = Config['rules']['console-signin-failures'];

function parse({ record, event }: EventContext): FailureFacts {
  const timeMs = eventTimeMs(record.eventTime);
  if (timeMs === undefined) throw new ParseError('detail.eventTime', 'expected an ISO time', event.id);
  const actor = record.actor;
  const name = actor.type === 'Root' ? 'root' : actor.type === 'IAMUser' ? actor.userName : undefined;
  return {
    resources: signInResources(record, event.account),
    signIn: parseSignIn(record, event.id),
    user: name && name !== HIDDEN_USER ? name : undefined,
    sourceIp: record.sourceIp,
    timeMs,
  };
}

// Fixed windows by event time, so a redelivered or late event counts in the window it happened in. A
// failure adds one to its user's and its IP's counters; a success only reads its user's (count 0).
async function count(facts: FailureFacts, context: EventContext, { windowMinutes }: Settings): Promise<Counts> {
  const add = context.countInWindow;
  if (!add || facts.signIn.result === 'other') return { counted: false };
  const windowMs = windowMinutes * 60_000;
  const windowStart = Math.floor(facts.timeMs / windowMs) * windowMs;
  const step = facts.signIn.result === 'Failure' ? 1 : 0;
  const bump = (key: string) => add(key, windowStart, step, windowStart + 2 * windowMs);
  const user = facts.user === undefined ? undefined : await bump(`user#${facts.user}`);
  const ip = facts.sourceIp === undefined || step === 0 ? undefined : await bump(`ip#${facts.sourceIp}`);
  return { counted: true, windowStart, ...(user === undefined ? {} : { user }), ...(ip === undefined ? {} : { ip }) };
}

function decide(facts: FailureFacts, counts: Counts | undefined, { threshold, windowMinutes }: Settings): Decision {
  const who = facts.user ?? 'an unknown user name (CloudTrail hides names that do not exist)';
  const from = facts.sourceIp ?? 'an unrecorded address';
  if (facts.signIn.result === 'other') return notApplicable('a ConsoleLogin that neither succeeded nor failed');
  if (!counts?.counted) {
    if (facts.signIn.result === 'Success') return compliant(`a successful sign-in by ${who}; failures are counted only with the state store`, facts.resources);
    // Replay has no store: each failure is reported rather than none, so a backtest never hides a brute force.
    return alert(`failed console sign-in for ${who} from ${from}; not counted (no state store, as in replay): every failure is reported here, a deployment alerts once when ${threshold} arrive within ${windowMinutes} min`, 'LOW', facts.resources);
  }
  const window = `${new Date(counts.windowStart).toISOString().slice(11, 16)}-${new Date(counts.windowStart + windowMinutes * 60_000).toISOString().slice(11, 16)} UTC`;
  if (facts.signIn.result === 'Success') {
    const before = counts.user ?? 0;
    if (before >= threshold) return alert(`${who} signed in successfully from ${from} after ${before} failed attempts in the window ${window}: the password may have been guessed`, 'HIGH', facts.resources);
    return compliant(`a successful sign-in by ${who} (${before} failures before it in the window ${window})`, facts.resources);
  }
  const reached = [
    ...(counts.user === threshold ? [`${threshold} for ${who}`] : []),
    ...(counts.ip === threshold ? [`${threshold} from ${from}`] : []),
  ];
  const tally = `${counts.user ?? '-'} for the user, ${counts.ip ?? '-'} from the IP`;
  if (reached.length === 0) {
    const already = Math.max(counts.user ?? 0, counts.ip ?? 0) > threshold ? '; already alerted in this window' : '';
    return compliant(`failed console sign-in (${tally} in the window ${window}, alert at ${threshold})${already}`, facts.resources);
  }
  return alert(`repeated failed console sign-ins: ${reached.join(' and ')} within the window ${window} (${tally}); one alert per window`, facts.user === 'root' ? 'HIGH' : 'MEDIUM', facts.resources);
}

/** N failed console sign-ins for one user or one source IP within a window (default 5 in 15 min), once per window. */
export const consoleSigninFailures = alertRule<FailureFacts, Counts, Record<string, never>, Settings>({
  id: 'console-signin-failures',
  pattern: pattern as EventPattern,
  settings: (config: Config) => config.rules['console-signin-failures'],
  parse,
  reads: { permissions: {}, clients: () => ({}), inspect: (facts, _clients, context, settings) => count(facts, context, settings) },
  decide,
  title: (record) => (record.reason.startsWith('repeated') ? `Repeated failed console sign-ins: ${record.resources[0]?.id ?? record.sourceIp ?? 'unknown'}`
    : record.reason.includes('signed in successfully') ? `Console sign-in after repeated failures: ${record.resources[0]?.id ?? 'unknown'}` : 'Failed console sign-in'),
  checkNext: (record) => [
    `all sign-ins from ${record.sourceIp ?? 'the address'}: CloudTrail Event history, Event name ConsoleLogin, around ${record.eventTime ?? 'the event time'}`,
    'if the user did not try: reset the password, check MFA (aws iam list-mfa-devices --user-name <user>), consider blocking the address',
    ...(record.reason.includes('signed in successfully') ? ['treat the session as compromised until the user confirms it: review what it did'] : []),
  ],
});
