import * as v from 'valibot';
import type { Config } from '../../shared/config.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { isAccountId } from '../../shared/aws/names.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { actorLabel, parseWith, type CloudTrailRecord } from '../../shared/events/schema.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { alert, compliant, type Decision, type EventContext, type ResourceRef } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, checked, noCommand, placeholder } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

const ACCOUNT = 'AWS::Organizations::Account';
// Organizations is a global service: its calls are recorded, and its commands answered, in us-east-1.
const ORGANIZATIONS_REGION = 'us-east-1';
const AccountId = v.pipe(v.string(), v.regex(/^\d{12}$/, 'expected a 12-digit account id'));
// A CloudTrail Lake row keeps requestParameters as map<string,string>, and the replay reads a digits-only value back as a
// number unless it starts with 0 (cli/backtest-sql.ts lakeMap; docs/cloudtrail-shapes.md): so a number is read only as
// the 12 digits it was, and an id with a leading zero arrives as text.
const AccountIdParameter = v.union([
  AccountId,
  v.pipe(
    v.number(),
    v.integer(),
    v.minValue(100_000_000_000, 'expected a 12-digit account id'),
    v.maxValue(999_999_999_999, 'expected a 12-digit account id'),
    v.transform(String),
  ),
]);
// RemoveAccountFromOrganization names the account; LeaveOrganization takes no parameters (logged as null).
const RemoveRequest = v.looseObject({ accountId: AccountIdParameter });

interface ExitFacts {
  /** The account that left, or was removed. */
  readonly account: string;
  readonly resources: readonly [ResourceRef];
}

type Settings = Config['rules']['organization-left'];

/** What this rule reports: an account that left, one the management account removed, and a failed attempt at either. */
export const FINDINGS = ['account-left-organization', 'account-removed-from-organization', 'organization-exit-failed'] as const;
type Finding = (typeof FINDINGS)[number];

/** The one failure that changed nothing worth telling: the management account named an account that is no member. */
const NOT_A_MEMBER = 'AccountNotFoundException';
const shown = (text: string): string => terminalValue(text.length > 100 ? `${text.slice(0, 100)}…` : text);

/** The account a call takes out of the organisation: the caller's own for LeaveOrganization, the named one for a removal. */
function accountOf(record: CloudTrailRecord, account: string | undefined, eventId: string | null): string {
  if (record.eventName !== 'RemoveAccountFromOrganization') return parseWith(AccountId, account, 'account', eventId);
  return parseWith(RemoveRequest, record.requestParameters, 'detail.requestParameters', eventId).accountId;
}

const resourceOf = (account: string): [ResourceRef] => [{ type: ACCOUNT, id: account }];

function parse({ record, event }: EventContext): ExitFacts {
  const account = accountOf(record, event.account, event.id);
  return { account, resources: resourceOf(account) };
}

function decide(facts: ExitFacts, _state: undefined, _settings: Settings, { record }: EventContext): Decision {
  const by = shown(actorLabel(record.actor));
  // A removal has the effect of leaving (the account is outside every guardrail of the organisation): as severe.
  if (record.eventName === 'RemoveAccountFromOrganization') {
    return alert(
      `account ${facts.account} was removed from the organisation by ${by} (from the management account): the organisation's SCPs, organisation trail and delegated security services no longer cover it`,
      'CRITICAL',
      facts.resources,
      'account-removed-from-organization',
    );
  }
  return alert(
    `account ${facts.account} left the organisation (LeaveOrganization by ${by}): the organisation's SCPs, organisation trail and delegated security services (GuardDuty, Security Hub, Config) no longer cover it, and trailguard's member stack may be removed with it`,
    'CRITICAL',
    facts.resources,
    'account-left-organization',
  );
}

// An attempt is itself the signal (the first move of someone about to shed the organisation's guardrails): told HIGH
// whatever the error, denied by an SCP or IAM, or refused because the account cannot stand alone yet. Only a removal
// naming an account that is no member (AccountNotFoundException) is compliant: no member account was at stake.
function failedCall(record: CloudTrailRecord, _settings: Settings, context: EventContext): Decision | undefined {
  const code = shown(record.errorCode ?? 'unknown error');
  const by = shown(actorLabel(record.actor));
  if (record.eventName === 'RemoveAccountFromOrganization') {
    const request = v.safeParse(RemoveRequest, record.requestParameters);
    const resources = request.success ? resourceOf(request.output.accountId) : [];
    const target = request.success ? `account ${request.output.accountId}` : 'an account (not named readably in the request)';
    if (record.errorCode === NOT_A_MEMBER)
      return compliant(`the RemoveAccountFromOrganization call failed (${code}): it named no member account, nothing changed`, resources);
    return alert(
      `an attempt by ${by} to remove ${target} from the organisation failed (${code}): it is still a member, but someone tried to take it out of the organisation's guardrails`,
      'HIGH',
      resources,
      'organization-exit-failed',
    );
  }
  const account = v.safeParse(AccountId, context.event.account);
  return alert(
    `an attempt by ${by} to take account ${account.success ? account.output : 'unknown'} out of the organisation (LeaveOrganization) failed (${code}): it is still a member, but someone holding its credentials tried to shed the organisation's guardrails`,
    'HIGH',
    account.success ? resourceOf(account.output) : [],
    'organization-exit-failed',
  );
}

function titleOf(record: RemediationRecord, finding: Finding | undefined): string {
  const account = record.resources[0]?.id ?? 'unknown';
  if (finding === 'account-left-organization') return `Account left the organisation: ${account}`;
  if (finding === 'account-removed-from-organization') return `Account removed from the organisation: ${account}`;
  return record.eventName === 'RemoveAccountFromOrganization'
    ? `Failed removal from the organisation: ${account}`
    : `Failed attempt to leave the organisation: ${account}`;
}

function checkNext(record: RemediationRecord, finding: Finding | undefined): readonly string[] {
  const account = checked(record.resources[0]?.id, 'account id', isAccountId);
  const region = ORGANIZATIONS_REGION;
  const who =
    'who holds the credentials of the actor below, and what else it did in the last hours (CloudTrail of that account): taking an account out of the organisation is how stolen credentials shed SCPs and the organisation trail';
  if (finding === 'organization-exit-failed' && record.eventName === 'RemoveAccountFromOrganization') {
    // SCPs never restrict the management account: only its IAM policies can keep a principal from removing accounts.
    return [
      who,
      `that only the principals meant to remove accounts are allowed organizations:RemoveAccountFromOrganization by their IAM policies in the management account (SCPs never apply there), starting with the actor below; and that the account is still a member: ${awsCommand('organizations', 'describe-account', { accountId: account, region })}`,
    ];
  }
  if (finding === 'organization-exit-failed') {
    // A deny-leave SCP usually sits on the root or an OU, so the account's own attachments alone would miss it.
    return [
      who,
      `that an SCP denies organizations:LeaveOrganization to every principal of the account, from the management account: on the account itself (${awsCommand('organizations', 'list-policies-for-target', { targetId: account, filter: 'SERVICE_CONTROL_POLICY', region })}), on each of its parents up to the root (${awsCommand('organizations', 'list-parents', { childId: account, region })}, then for each parent ${awsCommand('organizations', 'list-policies-for-target', { targetId: placeholder('<parent-id>'), filter: 'SERVICE_CONTROL_POLICY', region })}), and on the root (${awsCommand('organizations', 'list-roots', { region })})`,
    ];
  }
  const inviteBack =
    'valid' in account
      ? awsCommand('organizations', 'invite-account-to-organization', { target: `Id=${account.valid},Type=ACCOUNT`, region })
      : noCommand(account.invalid);
  return [
    who,
    `whether it is still a member, from the management account: ${awsCommand('organizations', 'describe-account', { accountId: account, region })}; if not, and unintended, invite it back (${inviteBack}) and rotate the credentials that did it`,
  ];
}

/** An account leaving the organisation, removed from it, or trying to. */
export const organizationLeft = alertRule<ExitFacts, undefined, Record<string, never>, Settings, Finding>({
  id: 'organization-left',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => config.rules['organization-left'],
  parse,
  decide,
  failedCall,
  title: titleOf,
  checkNext,
});
