import * as v from 'valibot';
import type { Config } from '../../shared/config.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { isIamName, isIamPolicyArn } from '../../shared/aws/names.js';
import { readPolicyDocument, type PolicyReading } from '../../shared/alerts/policy-document.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith, type Actor } from '../../shared/events/schema.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { signInResources } from '../../shared/alerts/sign-in.js';
import { alert, compliant, type Coverage, type Decision, type EventContext, type ResourceRef } from '../../shared/rule.js';
import { awsCommand, checked, noCommand, placeholder, refusedIn } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

const Name = v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(2048)));
// Only what the decision reads; policyDocument is read by readPolicyDocument and never kept in the facts.
const IamRequest = v.looseObject({
  userName: Name,
  roleName: Name,
  groupName: Name,
  policyName: Name,
  policyArn: Name,
  versionId: Name,
  policyDocument: v.optional(v.unknown()),
  setAsDefault: v.optional(v.boolean()),
});

interface IamFacts {
  readonly resources: readonly ResourceRef[];
  /** The user, role or group the policy is on (or the new user, the key's owner, the user added to a group). */
  readonly principal: { readonly kind: 'user' | 'role' | 'group'; readonly name: string } | undefined;
  /** AddUserToGroup: the group the user joined (the principal is the user). */
  readonly group: string | undefined;
  readonly policy: string | undefined;
  /** SetDefaultPolicyVersion: the version made the default (its document is not in the event). */
  readonly versionId: string | undefined;
  /** Only for calls that carry a document: what it grants, never the document. */
  readonly document: PolicyReading | undefined;
  readonly setAsDefault: boolean;
}

type Settings = Config['rules']['iam-policy-change'];

/**
 * What this rule reports, one code per kind of alert: administrator rights granted (CRITICAL), a policy created that
 * would grant them, a new user, access key or group membership, a new default policy version, any other policy change,
 * and one whose document could not be read (HIGH).
 */
export const FINDINGS = [
  'privilege-escalation',
  'admin-policy-created',
  'user-created',
  'access-key-created',
  'user-added-to-group',
  'default-policy-version-set',
  'policy-changed',
  'unreadable-policy-changed',
] as const;
type Finding = (typeof FINDINGS)[number];

const TYPES = { user: 'AWS::IAM::User', role: 'AWS::IAM::Role', group: 'AWS::IAM::Group' } as const;

function parse({ record, event }: EventContext): IamFacts {
  // CloudTrail records `requestParameters: null` for a call with no parameters (CreateAccessKey for oneself,
  // root's included): an empty request, not a broken event. An alert with less detail beats a lost one.
  const request = parseWith(IamRequest, record.requestParameters ?? {}, 'detail.requestParameters', event.id);
  // CreateAccessKey without userName makes a key for the caller itself.
  const forCaller = record.eventName === 'CreateAccessKey' && !request.userName;
  const self = forCaller && record.actor.type === 'IAMUser' ? record.actor.userName : undefined;
  const userName = request.userName ?? self;
  const principal = userName
    ? { kind: 'user' as const, name: userName }
    : request.roleName
      ? { kind: 'role' as const, name: request.roleName }
      : request.groupName
        ? { kind: 'group' as const, name: request.groupName }
        : undefined;
  const policy = request.policyArn ?? request.policyName;
  const group = record.eventName === 'AddUserToGroup' && principal?.kind === 'user' ? request.groupName : undefined;
  return {
    resources: [
      ...(principal ? [{ type: TYPES[principal.kind], id: principal.name }] : []),
      ...(group ? [{ type: TYPES.group, id: group }] : []),
      ...(policy ? [{ type: request.policyArn ? 'AWS::IAM::ManagedPolicy' : 'AWS::IAM::Policy', id: policy }] : []),
    ],
    principal,
    group,
    policy,
    versionId: request.versionId,
    document: request.policyDocument === undefined ? undefined : readPolicyDocument(request.policyDocument),
    setAsDefault: request.setAsDefault === true,
  };
}

function isSelf(actor: Actor, principal: IamFacts['principal']): boolean {
  if (!principal) return false;
  return (
    (actor.type === 'IAMUser' && principal.kind === 'user' && actor.userName === principal.name)
    || (actor.type === 'AssumedRole' && principal.kind === 'role' && actor.roleName === principal.name)
  );
}

/** A policy ARN without its partition, so `arn:aws-cn:` and `arn:aws-us-gov:` ARNs of AWS-managed policies match `arn:aws:` ones. */
const withoutPartition = (arn: string) => arn.replace(/^arn:aws[a-z-]*:/, '');

function isAdminPolicy(policy: string | undefined, adminPolicyArns: readonly string[]): boolean {
  return policy !== undefined && adminPolicyArns.some((admin) => withoutPartition(admin) === withoutPartition(policy));
}

function decide(facts: IamFacts, settings: Settings, { record }: EventContext): Decision {
  const name = record.eventName;
  const on = facts.principal ? `${facts.principal.kind} ${facts.principal.name}` : undefined;
  const target = on ? (isSelf(record.actor, facts.principal) ? `ITSELF (${on})` : on) : undefined;
  const policy = facts.policy ?? 'a policy';
  if (name === 'DeletePolicyVersion')
    return compliant(
      `${name} removed a non-default version of ${policy} (the default one cannot be deleted): no effective permission changed`,
      facts.resources,
    );
  const adminArn = name.startsWith('Attach') && isAdminPolicy(facts.policy, settings.adminPolicyArns);
  if (adminArn)
    return alert(
      `privilege escalation: ${name} gave ${target ?? 'a principal'} the administrator policy ${facts.policy}`,
      'CRITICAL',
      facts.resources,
      'privilege-escalation',
    );
  const doc = facts.document;
  if (doc?.kind === 'admin') {
    if (name.startsWith('Put'))
      return alert(
        `privilege escalation: ${name} gave ${target ?? 'a principal'} an inline policy ${policy} allowing ${doc.grant}`,
        'CRITICAL',
        facts.resources,
        'privilege-escalation',
      );
    if (name === 'CreatePolicyVersion' && facts.setAsDefault)
      return alert(
        `privilege escalation: ${name} made a version allowing ${doc.grant} the default of ${policy}: every principal it is attached to is now an administrator`,
        'CRITICAL',
        facts.resources,
        'privilege-escalation',
      );
    return alert(
      `${name} created ${policy} allowing ${doc.grant}${name === 'CreatePolicyVersion' ? ' (not the default version yet)' : ''}: attaching it makes an administrator`,
      'HIGH',
      facts.resources,
      'admin-policy-created',
    );
  }
  const unreadable = doc?.kind === 'unreadable' ? `; ${doc.why}, so it was not checked for administrator rights` : '';
  switch (name) {
    case 'CreateUser':
      return alert(`a new IAM user ${facts.principal?.name ?? ''} was created`, 'MEDIUM', facts.resources, 'user-created');
    case 'CreateAccessKey':
      return alert(
        `a new access key was created for ${target ?? (record.actor.type === 'Root' ? 'the ROOT USER itself' : 'the caller itself')}: long-lived credentials`,
        'MEDIUM',
        facts.resources,
        'access-key-created',
      );
    // No read of the group's policies (notify-only, no API reads): the alert says what to look at.
    case 'AddUserToGroup':
      return alert(
        `${target ?? 'a user'} was added to the group ${facts.group ?? '(not named in the event)'}: it now has every permission of that group's policies`,
        'MEDIUM',
        facts.resources,
        'user-added-to-group',
      );
    // The classic escalation is making an old, broader version the default: the event names the version only.
    case 'SetDefaultPolicyVersion':
      return alert(
        `${name} made version ${facts.versionId ?? '(not named)'} the default of ${policy}: every principal it is attached to now has that version's permissions; the event does not carry the version's document, so it was not checked for administrator rights`,
        'MEDIUM',
        facts.resources,
        'default-policy-version-set',
      );
    default: {
      const reason = `IAM policy change: ${name} ${policy}${target ? ` on ${target}` : ''}${unreadable}`;
      return doc?.kind === 'unreadable'
        ? alert(reason, 'HIGH', facts.resources, 'unreadable-policy-changed')
        : alert(reason, 'MEDIUM', facts.resources, 'policy-changed');
    }
  }
}

// The root user's calls are root-activity's to page: every successful call a person made as root (not an AWS service
// on root's behalf, invokedBy other than the console) at HIGH, CreateAccessKey at CRITICAL. Known from the record alone,
// so this rule's Lambda and root-activity's agree on one page without talking to each other (shared/runner/notify.ts).
const CONSOLE = 'signin.amazonaws.com';

/**
 * The page root-activity surely sends for this event, when there is one: this rule's alert is folded into it unless it
 * is rated higher. Only root's CreateAccessKey (CRITICAL): root-activity's other pages are HIGH, and the burst digest
 * holds HIGH pages back in a busy root session (every root call, reads included, counts), so folding into one could
 * leave nobody paged. A CRITICAL page is never held back.
 */
export function rootCoverage({ record, event }: EventContext): Coverage | undefined {
  if (record.actor.type !== 'Root' || record.errorCode || record.eventName !== 'CreateAccessKey') return undefined;
  if (record.actor.invokedBy && record.actor.invokedBy !== CONSOLE) return undefined;
  return { rule: 'root-activity', severity: 'CRITICAL', resources: signInResources(record, event.account) };
}

const coveredBy = (decision: Decision, coverage: Coverage | undefined): Decision =>
  decision.kind === 'alert' && coverage ? { ...decision, coveredBy: coverage } : decision;

/** The principal kinds by resource type, as IAM's commands and flags spell them (`list-attached-user-policies --user-name`). */
const KINDS: Readonly<Record<string, 'user' | 'role' | 'group'>> = { [TYPES.user]: 'user', [TYPES.role]: 'role', [TYPES.group]: 'group' };

const iamName = (value: string | undefined, what: string) => checked(value, what, isIamName);

function groupChecks(record: RemediationRecord): string[] {
  const group = record.resources.find((r) => r.type === TYPES.group)?.id;
  if (!group) return [];
  const groupName = iamName(group, 'group name');
  const userName = iamName(record.resources.find((r) => r.type === TYPES.user)?.id, 'user name');
  const refused = refusedIn({ groupName, userName });
  return [
    `what the group grants: ${
      refused
        ? noCommand(refused)
        : `${awsCommand('iam', 'list-attached-group-policies', { groupName })} and ${awsCommand('iam', 'list-group-policies', { groupName })}; if unapproved: ${awsCommand('iam', 'remove-user-from-group', { groupName, userName })}`
    }`,
  ];
}

/** What a user, role or group can do now: its attached and inline policies. */
function principalChecks(record: RemediationRecord): string[] {
  const principal = record.resources.find((r) => KINDS[r.type] !== undefined);
  const kind = principal ? KINDS[principal.type] : undefined;
  if (!principal || !kind) return [];
  const name = { [`${kind}Name`]: iamName(principal.id, `${kind} name`) };
  const refused = refusedIn(name);
  return [
    `what the ${kind} can do now: ${
      refused ? noCommand(refused) : `${awsCommand('iam', `list-attached-${kind}-policies`, name)} and ${awsCommand('iam', `list-${kind}-policies`, name)}`
    }`,
  ];
}

/** Deactivating a new key: its id is in CloudTrail's response, which trailguard does not carry into messages. */
function keyChecks(record: RemediationRecord): string[] {
  const user = record.resources.find((r) => r.type === TYPES.user)?.id;
  const flags = { ...(user ? { userName: iamName(user, 'user name') } : {}), accessKeyId: placeholder('<access-key-id>'), status: 'Inactive' };
  return [`if unapproved: ${awsCommand('iam', 'update-access-key', flags)} (the key id is in CloudTrail, not in this message)`];
}

function versionChecks(record: RemediationRecord): string[] {
  const policyArn = checked(record.resources.find((r) => r.type === 'AWS::IAM::ManagedPolicy')?.id, 'policy ARN', isIamPolicyArn);
  return [
    `what the new default allows: ${awsCommand('iam', 'get-policy-version', { policyArn, versionId: placeholder('<version-id>') })} (the version named above); if unapproved, set the previous version back`,
  ];
}

/** IAM policy changes, new users and access keys; granting administrator rights (`AdministratorAccess`, `*`/`iam:*` on `*`) is CRITICAL. */
export const iamPolicyChange = alertRule<IamFacts, undefined, Record<string, never>, Settings, Finding>({
  id: 'iam-policy-change',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  // IAM.1 checks customer managed policies for `*` on `*`: what admin-policy-created finds. The rest are policy changes.
  controls: { byFinding: { 'admin-policy-created': ['IAM.1', 'CloudWatch.4'] }, other: ['CloudWatch.4'] },
  settings: (config: Config) => config.rules['iam-policy-change'],
  parse,
  decide: (facts, _state, settings, context) => coveredBy(decide(facts, settings, context), rootCoverage(context)),
  title: (record, finding) =>
    `${finding === 'privilege-escalation' ? 'Privilege escalation' : 'IAM change'}: ${record.eventName ?? 'call'} ${record.resources.map((r) => r.id).join(' ')}`,
  checkNext: (record, finding) => [
    'was this change reviewed (a ticket, a pipeline run)? The actor, IP and user agent are below',
    ...principalChecks(record),
    ...(finding === 'privilege-escalation'
      ? ['if unapproved: detach or delete the policy, then review what the principal did since (CloudTrail Event history)']
      : []),
    ...(record.eventName === 'CreateAccessKey' ? keyChecks(record) : []),
    ...(record.eventName === 'AddUserToGroup' ? groupChecks(record) : []),
    ...(record.eventName === 'SetDefaultPolicyVersion' ? versionChecks(record) : []),
  ],
});
