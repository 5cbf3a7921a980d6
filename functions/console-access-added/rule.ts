import type { IAMClient } from '@aws-sdk/client-iam';
import * as v from 'valibot';
import { permissionsOf, planOf } from '../../shared/actions/action.js';
import { deleteLoginProfile, isIamUserName, readLoginProfile, type LoginProfilePrevious } from '../../shared/actions/iam-delete-login-profile.js';
import { awsCall } from '../../shared/aws/errors.js';
import { iamClient } from '../../shared/aws/iam.js';
import type { Config } from '../../shared/config.js';
import { ParseError } from '../../shared/errors.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { actorLabel, parseWith, type Actor } from '../../shared/events/schema.js';
import {
  alert,
  compliant,
  violation,
  whereOf,
  type Decision,
  type EventContext,
  type Message,
  type ResourceRef,
  type Rule,
  type RunContext,
} from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, checked, placeholder } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

const USER = 'AWS::IAM::User';
const GET = 'IAM.GetLoginProfile';
const ACTIONS = [deleteLoginProfile];

/** A password given to a user (console access added), one changed for another user, or root's own (no user named). */
export const FINDINGS = ['console-access-added', 'password-changed-for-another-user', 'root-password-set'] as const;
type Finding = (typeof FINDINGS)[number];

export interface ConsoleFacts {
  readonly kind: 'create' | 'update';
  /** The user the password is for; none when no user is named and the caller is no IAM user (root, an AssumeRoot session). */
  readonly resources: readonly [ResourceRef] | readonly [];
  /** The caller is the IAM user the password is for (no user named, or its own name). */
  readonly own: boolean;
  readonly eventMs: number;
}

/** The user's console password now (dry-run and live). None (NoSuchEntity) is `gone`: the runner ends the event ignored. */
export interface ConsoleState {
  readonly profile: LoginProfilePrevious;
}

type Clients = { readonly iam: IAMClient };
type Settings = Config['rules']['console-access-added'];

// CreateLoginProfile and UpdateLoginProfile are logged with `userName` and `passwordResetRequired`; the password never
// is (docs/cloudtrail-shapes.md#login-profile). `userName` may be absent: the call is then about the caller itself.
const Request = v.looseObject({ userName: v.optional(v.nullable(v.unknown())) });

/**
 * How far the profile's CreateDate may be from the event's time and still be the password the event made: IAM stamps
 * both within the same request. A profile made later (deleted and made again) has an event of its own.
 */
const SAME_PROFILE_MS = 30_000;

const shown = (text: string) => terminalValue(text.length > 100 ? `${text.slice(0, 100)}…` : text);

function parse({ record, event }: EventContext): ConsoleFacts {
  const r = parseWith(Request, record.requestParameters, 'detail.requestParameters', event.id);
  const kind = record.eventName === 'UpdateLoginProfile' ? 'update' : 'create';
  const eventMs = Date.parse(record.eventTime);
  if (Number.isNaN(eventMs)) throw new ParseError('detail.eventTime', 'expected an ISO time', event.id);
  const actor = record.actor;
  const ownName = actor.type === 'IAMUser' ? actor.userName : undefined;
  if (r.userName === undefined || r.userName === null) {
    // No user named: the caller's own password when an IAM user calls; else the root user's (root, a centralised-root session).
    return { kind, resources: ownName ? [{ type: USER, id: ownName }] : [], own: ownName !== undefined, eventMs };
  }
  if (typeof r.userName !== 'string' || !isIamUserName(r.userName))
    throw new ParseError('detail.requestParameters.userName', 'expected an IAM user name (1-64 of letters, digits and +=,.@_-)', event.id);
  return { kind, resources: [{ type: USER, id: r.userName }], own: ownName === r.userName, eventMs };
}

/** The session issuer's role ARN when it is one the settings trust; a role name alone is never enough. */
function trustedRole(actor: Actor, settings: Settings): string | undefined {
  if (actor.type !== 'AssumedRole' || actor.roleArn === undefined) return undefined;
  return settings.trustedRoleArns.includes(actor.roleArn) ? actor.roleArn : undefined;
}

function decide(facts: ConsoleFacts, state: ConsoleState | undefined, settings: Settings, context: RunContext): Decision {
  if (!context.record) return compliant('console-access-added decides on a CloudTrail event only');
  const actor = context.record.actor;
  const who = shown(actorLabel(actor));
  const user = facts.resources[0];
  const trusted = trustedRole(actor, settings);
  if (trusted) return compliant(`console password set by the trusted role ${shown(trusted)} (trustedRoleArns)`, facts.resources);
  if (facts.kind === 'update') {
    if (facts.own) return compliant(`${who} changed its own console password`, facts.resources);
    if (!user) return alert(`${who} changed the root user's console password`, 'HIGH', [], 'root-password-set');
    return alert(
      `${who} changed the console password of IAM user ${user.id}: the user's old password no longer works, and whoever set the new one can sign in as the user`,
      'HIGH',
      facts.resources,
      'password-changed-for-another-user',
    );
  }
  // No user named and no IAM user calling: the root user's password (centralised root access), which no role of ours may delete.
  if (!user) return alert(`${who} set a console password for the root user`, 'HIGH', [], 'root-password-set');
  if (state) {
    const created = Date.parse(state.profile.CreateDate);
    if (Number.isNaN(created) || Math.abs(created - facts.eventMs) > SAME_PROFILE_MS)
      return compliant(
        `IAM user ${user.id}'s console password now was created at ${state.profile.CreateDate}, not by this event: a later password has an event of its own`,
        facts.resources,
      );
  }
  const plan = planOf(deleteLoginProfile, user, { UserName: user.id }, state?.profile);
  const reason = `${who} gave IAM user ${user.id} a console password: whoever knows it can sign in to the console as the user (a known persistence step after stolen access keys)`;
  if (settings.remediate) return violation(reason, 'HIGH', facts.resources, [plan], 'console-access-added');
  const command = deleteLoginProfile.command({ ...plan, previous: plan.previous, region: whereOf(context).region });
  return alert(`${reason}; not deleted (remediate is off): to delete it, ${command}`, 'HIGH', facts.resources, 'console-access-added');
}

async function inspect(facts: ConsoleFacts, { iam }: Clients): Promise<ConsoleState | undefined> {
  const user = facts.resources[0];
  // Only a created password is judged on the account now; a changed one, or root's, is alerted from the event alone.
  if (facts.kind !== 'create' || !user) return undefined;
  return { profile: await awsCall(GET, user.id, () => readLoginProfile(iam, user.id)) };
}

function titleFor(outcome: string, user: string, finding: string | null | undefined): string {
  if (finding === 'password-changed-for-another-user') return `Console password of IAM user ${user} changed by someone else`;
  if (finding === 'root-password-set') return 'Root user console password set';
  switch (outcome) {
    case 'remediated':
      return `Console password of IAM user ${user} deleted`;
    case 'would-remediate':
      return `Would delete the console password of IAM user ${user}`;
    case 'failed':
      return `FAILED to delete the console password of IAM user ${user}`;
    case 'alerted':
      return `Console password given to IAM user ${user}`;
    default:
      return `Console password of IAM user ${user}: ${outcome}`;
  }
}

export const consoleAccessAdded = {
  id: 'console-access-added',
  pattern: pattern as EventPattern,
  permissions: { [GET]: 'iam:GetLoginProfile', ...permissionsOf(ACTIONS) },
  actions: ACTIONS,
  settings: (config: Config) => config.rules['console-access-added'],
  clients: (options) => ({ iam: iamClient(options) }),
  parse,
  inspect,
  decide,
  message(record): Message {
    const user = record.resources[0]?.id ?? 'unknown';
    const lines =
      record.outcome === 'alerted' && record.finding === 'password-changed-for-another-user'
        ? [
            'Check next: whether the user asked for a reset (a help desk, an administrator), and what else the caller did in the same session',
            `Check next: if unintended, give the user a new password that must be reset at sign-in, handed over out of band: ${awsCommand('iam', 'update-login-profile', { userName: checked(user, 'IAM user name', isIamUserName), password: placeholder('<new-password>'), passwordResetRequired: true })}`,
          ]
        : [];
    return { title: titleFor(record.outcome, user, record.finding), lines };
  },
} satisfies Rule<ConsoleFacts, ConsoleState | undefined, Clients, Settings>;

export type { Finding as ConsoleAccessFinding };
