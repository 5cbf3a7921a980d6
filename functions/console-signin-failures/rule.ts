import type { Config } from '../../shared/config.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { claimWindowAlert, tallyInWindow, type WindowTally } from '../../shared/alerts/window-count.js';
import { HIDDEN_USER, parseSignIn, signInResources, type SignIn } from '../../shared/alerts/sign-in.js';
import { ParseError } from '../../shared/errors.js';
import { eventTimeMs } from '../../shared/events/normalize.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { alert, compliant, notApplicable, type Decision, type EventContext, type ResourceRef } from '../../shared/rule.js';
import { awsCommand, placeholder } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

interface FailureFacts {
  readonly resources: readonly ResourceRef[];
  readonly signIn: SignIn;
  /** The account signed in to: counters are per account, so `root` or `admin` of two member accounts never add up. */
  readonly account: string;
  /** The user name counted, or undefined when CloudTrail hides it (no such user) or there is none. */
  readonly user: string | undefined;
  readonly sourceIp: string | undefined;
  readonly timeMs: number;
}

/** Failures per user and per source IP around the event; `alerts` says which counter this event alerts for. */
type Counts =
  | { readonly counted: false }
  | { readonly counted: true; readonly user?: WindowTally; readonly ip?: WindowTally; readonly alerts: { readonly user: boolean; readonly ip: boolean } };

type Settings = Config['rules']['console-signin-failures'];

/**
 * What this rule reports, one code per kind of alert: the threshold of failures reached for a user or an IP, a
 * successful sign-in after that many failures, and (without a state store, as in replay) each failure uncounted.
 */
export const FINDINGS = ['repeated-sign-in-failures', 'sign-in-after-failures', 'uncounted-sign-in-failure'] as const;
type Finding = (typeof FINDINGS)[number];

function parse({ record, event }: EventContext): FailureFacts {
  const timeMs = eventTimeMs(record.eventTime);
  if (timeMs === undefined) throw new ParseError('detail.eventTime', 'expected an ISO time', event.id);
  const actor = record.actor;
  const name = actor.type === 'Root' ? 'root' : actor.type === 'IAMUser' ? actor.userName : undefined;
  return {
    resources: signInResources(record, event.account),
    signIn: parseSignIn(record, event.id),
    account: event.account ?? actor.accountId ?? 'unknown-account',
    user: name && name !== HIDDEN_USER ? name : undefined,
    sourceIp: record.sourceIp,
    timeMs,
  };
}

// A failure adds one to its user's and its IP's counters (in this account); a success only reads its user's.
// Counted over a sliding window, estimated from two fixed windows (shared/alerts/window-count.ts), so a burst
// across a window boundary is seen. A failure for an exempt user is not counted at all: the runner stops at
// the exemption before this runs (so it does not add to its IP's total either).
async function count(facts: FailureFacts, context: EventContext, { threshold, windowMinutes }: Settings): Promise<Counts> {
  const add = context.countInWindow;
  if (!add || facts.signIn.result === 'other') return { counted: false };
  const windowMs = windowMinutes * 60_000;
  const step = facts.signIn.result === 'Failure' ? 1 : 0;
  const keyOf = (kind: 'user' | 'ip', value: string | undefined) => (value === undefined ? undefined : `${kind}#${facts.account}#${value}`);
  const userKey = keyOf('user', facts.user);
  const ipKey = step === 0 ? undefined : keyOf('ip', facts.sourceIp);
  const tally = (key: string | undefined) => (key === undefined ? undefined : tallyInWindow(add, key, facts.timeMs, windowMs, step));
  const [user, ip] = await Promise.all([tally(userKey), tally(ipKey)]);
  const claim = async (key: string | undefined, counted: WindowTally | undefined) =>
    step === 1 && key !== undefined && counted !== undefined && claimWindowAlert(add, key, counted, windowMs, threshold);
  const alerts = { user: await claim(userKey, user), ip: await claim(ipKey, ip) };
  return { counted: true, alerts, ...(user ? { user } : {}), ...(ip ? { ip } : {}) };
}

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 16);

function decide(facts: FailureFacts, counts: Counts | undefined, { threshold, windowMinutes }: Settings): Decision {
  const who = facts.user ?? 'an unknown user name (CloudTrail hides names that do not exist)';
  const from = facts.sourceIp ?? 'an unrecorded address';
  if (facts.signIn.result === 'other') return notApplicable('a ConsoleLogin that neither succeeded nor failed');
  if (!counts?.counted) {
    if (facts.signIn.result === 'Success') return compliant(`a successful sign-in by ${who}; failures are counted only with the state store`, facts.resources);
    // Replay has no store: each failure is reported rather than none, so a backtest never hides a brute force.
    return alert(
      `failed console sign-in for ${who} from ${from}; not counted (no state store, as in replay): every failure is reported here, a deployment alerts once when ${threshold} arrive within ${windowMinutes} min`,
      'LOW',
      facts.resources,
      'uncounted-sign-in-failure',
    );
  }
  const window = `the ${windowMinutes} min up to ${clock(facts.timeMs)} UTC`;
  const weighted =
    (counts.user?.previous ?? 0) + (counts.ip?.previous ?? 0) > 0
      ? `; with the ${windowMinutes} min before ${clock((counts.user ?? counts.ip)?.windowStart ?? facts.timeMs)} UTC weighted by overlap`
      : '';
  if (facts.signIn.result === 'Success') {
    const before = counts.user?.estimate ?? 0;
    if (before >= threshold)
      return alert(
        `${who} signed in successfully from ${from} after ${before} failed attempts in ${window}${weighted}: the password may have been guessed`,
        'HIGH',
        facts.resources,
        'sign-in-after-failures',
      );
    return compliant(`a successful sign-in by ${who} (${before} failures before it in ${window})`, facts.resources);
  }
  const reached = [
    ...(counts.alerts.user ? [`${counts.user?.estimate ?? threshold} for ${who}`] : []),
    ...(counts.alerts.ip ? [`${counts.ip?.estimate ?? threshold} from ${from}`] : []),
  ];
  const tally = `${counts.user?.estimate ?? '-'} for the user, ${counts.ip?.estimate ?? '-'} from the IP${weighted}`;
  if (reached.length === 0) {
    const already =
      Math.max(counts.user?.estimate ?? 0, counts.ip?.estimate ?? 0) >= threshold ? '; already alerted for these failures (one alert per window)' : '';
    return compliant(`failed console sign-in (${tally}, in ${window}; alert at ${threshold})${already}`, facts.resources);
  }
  return alert(
    `repeated failed console sign-ins: ${reached.join(' and ')} within ${window} (${tally}); one alert per window`,
    facts.user === 'root' ? 'HIGH' : 'MEDIUM',
    facts.resources,
    'repeated-sign-in-failures',
  );
}

/** N failed console sign-ins for one user or one source IP within a window (default 5 in 15 min), once per window. */
export const consoleSigninFailures = alertRule<FailureFacts, Counts, Record<string, never>, Settings, Finding>({
  id: 'console-signin-failures',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  controls: { other: ['CloudWatch.6'] },
  settings: (config: Config) => config.rules['console-signin-failures'],
  parse,
  reads: { permissions: {}, clients: () => ({}), inspect: (facts, _clients, context, settings) => count(facts, context, settings) },
  decide,
  title: (record, finding) => {
    switch (finding) {
      case 'repeated-sign-in-failures':
        return `Repeated failed console sign-ins: ${record.resources[0]?.id ?? record.sourceIp ?? 'unknown'}`;
      case 'sign-in-after-failures':
        return `Console sign-in after repeated failures: ${record.resources[0]?.id ?? 'unknown'}`;
      default:
        return 'Failed console sign-in';
    }
  },
  checkNext: (record, finding) => [
    `all sign-ins from ${record.sourceIp ?? 'the address'}: CloudTrail Event history, Event name ConsoleLogin, around ${record.eventTime ?? 'the event time'}`,
    `if the user did not try: reset the password, check MFA (${awsCommand('iam', 'list-mfa-devices', { userName: placeholder('<user>') })}), consider blocking the address`,
    ...(finding === 'sign-in-after-failures' ? ['treat the session as compromised until the user confirms it: review what it did'] : []),
  ],
});
