import * as v from 'valibot';
import type { Config } from '../../shared/config.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { isIamName } from '../../shared/aws/names.js';
import { parseSignIn, signInResources, type SignIn } from '../../shared/alerts/sign-in.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith, type CloudTrailRecord } from '../../shared/events/schema.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { alert, compliant, type Decision, type ResourceRef } from '../../shared/rule.js';
import { awsCommand, checked, noCommand, placeholder, refusedIn } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

/** A root sign-in or call, with how it was made. */
interface RootFacts {
  readonly resources: readonly ResourceRef[];
  readonly signIn: SignIn | undefined;
  /** CreateAccessKey with `userName`: root made a key for that IAM user, not for itself. */
  readonly keyForUser: string | undefined;
}

// CreateAccessKey: `requestParameters: null` is a key for the caller (root's own, the sample), `{ userName }` one
// for that IAM user. Read only for CreateAccessKey: other root calls' parameters are not this rule's to validate.
const KeyRequest = v.nullish(v.looseObject({ userName: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128))) }));

type Settings = Config['rules']['root-activity'];

/**
 * What this rule reports, one code per kind of alert: a root console sign-in (with MFA, without, MFA not recorded,
 * failed); root creating an access key, its own or an IAM user's (with its own long-term access key, or in a
 * session); any other root call (made with a long-term root access key, or in a session); a root call that failed.
 */
export const FINDINGS = [
  'root-sign-in',
  'root-sign-in-without-mfa',
  'root-sign-in-mfa-unrecorded',
  'root-sign-in-failed',
  'root-access-key-created',
  'user-access-key-created-by-root',
  'user-access-key-created-with-root-access-key',
  'root-access-key-used',
  'root-call',
  'root-call-failed',
] as const;
type Finding = (typeof FINDINGS)[number];

/** The findings that say the root user has a long-term access key (CIS: it must have none). */
const ROOT_KEY_FINDINGS: ReadonlySet<Finding> = new Set(['root-access-key-created', 'user-access-key-created-with-root-access-key', 'root-access-key-used']);

// The console acts for the person signed in (invokedBy signin.amazonaws.com, docs/cloudtrail-shapes.md#identities): that is root use.
// Any other invokedBy is an AWS service calling on root's behalf (support, organizations, …): not a person.
const CONSOLE = 'signin.amazonaws.com';

function how(record: CloudTrailRecord): string {
  switch (record.signedWith) {
    case 'long-term-key':
      return 'with a long-term ROOT ACCESS KEY (CIS: the root user must have none)';
    case 'temporary-key':
      return 'in a console or temporary session';
    default:
      return 'with credentials CloudTrail does not name';
  }
}

function decideRoot(facts: RootFacts, record: CloudTrailRecord, failed: string | undefined): Decision {
  const service = record.actor.invokedBy;
  if (service && service !== CONSOLE) {
    return compliant(`${record.eventName} was made by ${service} on the root user's behalf (invokedBy), not by a person signed in as root`, facts.resources);
  }
  const signIn = facts.signIn;
  if (signIn) {
    if (signIn.result === 'Failure')
      return alert(
        'a console sign-in as the root user FAILED: someone holds or is guessing the root email and password',
        'HIGH',
        facts.resources,
        'root-sign-in-failed',
      );
    const [mfa, finding] =
      signIn.mfaUsed === 'Yes'
        ? (['with MFA', 'root-sign-in'] as const)
        : signIn.mfaUsed === 'No'
          ? (['WITHOUT MFA', 'root-sign-in-without-mfa'] as const)
          : (['MFA use not recorded (no MFAUsed)', 'root-sign-in-mfa-unrecorded'] as const);
    return alert(`the root user signed in to the console (${mfa})`, 'HIGH', facts.resources, finding);
  }
  const call = `${record.eventSource} ${record.eventName}`;
  const rootKey = record.signedWith === 'long-term-key';
  if (record.eventName === 'CreateAccessKey' && !failed && facts.keyForUser) {
    return alert(
      `the root user created an access key for the IAM user ${facts.keyForUser} (${how(record)}): long-lived credentials with ${facts.keyForUser}'s rights (not root's) may now exist`,
      'CRITICAL',
      facts.resources,
      rootKey ? 'user-access-key-created-with-root-access-key' : 'user-access-key-created-by-root',
    );
  }
  if (record.eventName === 'CreateAccessKey' && !failed) {
    return alert(
      `the root user created an access key (${how(record)}): long-lived credentials with unlimited rights may now exist`,
      'CRITICAL',
      facts.resources,
      'root-access-key-created',
    );
  }
  if (failed) return alert(`the root user attempted ${call} (failed: ${failed}) ${how(record)}`, 'HIGH', facts.resources, 'root-call-failed');
  return alert(`the root user called ${call} ${how(record)}`, 'HIGH', facts.resources, rootKey ? 'root-access-key-used' : 'root-call');
}

/** The IAM user a root-created access key is for (its resource), or undefined for root's own key. */
const keyUserOf = (record: RemediationRecord) =>
  record.eventName === 'CreateAccessKey' ? record.resources.find((r) => r.type === 'AWS::IAM::User')?.id : undefined;

function userKeyChecks(record: RemediationRecord): string[] {
  const user = keyUserOf(record);
  if (!user) return [];
  const userName = checked(user, 'user name', isIamName);
  const refused = refusedIn({ userName });
  return [
    `the new key of the IAM user: ${
      refused
        ? noCommand(refused)
        : `${awsCommand('iam', 'list-access-keys', { userName })}; if unapproved: ${awsCommand('iam', 'update-access-key', { userName, status: 'Inactive', accessKeyId: placeholder('<access-key-id>') })} (the key id is in CloudTrail)`
    }`,
  ];
}

/** Any call or console sign-in by the root user (HIGH; CRITICAL when it creates an access key). */
export const rootActivity = alertRule<RootFacts, undefined, Record<string, never>, Settings, Finding>({
  id: 'root-activity',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  controls: {
    byFinding: {
      'root-access-key-created': ['IAM.4', 'CloudWatch.1'],
      'user-access-key-created-with-root-access-key': ['IAM.4', 'CloudWatch.1'],
      'root-access-key-used': ['IAM.4', 'CloudWatch.1'],
      'root-sign-in-without-mfa': ['IAM.9', 'CloudWatch.1'],
      'root-sign-in-mfa-unrecorded': ['IAM.9', 'CloudWatch.1'],
    },
    other: ['CloudWatch.1'],
  },
  settings: (config: Config) => config.rules['root-activity'],
  parse: ({ record, event }) => {
    const keyForUser =
      record.eventName === 'CreateAccessKey' ? parseWith(KeyRequest, record.requestParameters, 'detail.requestParameters', event.id)?.userName : undefined;
    return {
      resources: [...signInResources(record, event.account), ...(keyForUser ? [{ type: 'AWS::IAM::User', id: keyForUser }] : [])],
      signIn: record.eventName === 'ConsoleLogin' ? parseSignIn(record, event.id) : undefined,
      keyForUser,
    };
  },
  decide: (facts, _state, _settings, { record }) => decideRoot(facts, record, undefined),
  failedCall: (record, _settings, { event }) =>
    decideRoot({ resources: signInResources(record, event.account), signIn: undefined, keyForUser: undefined }, record, record.errorCode),
  title: (record) =>
    record.eventName === 'ConsoleLogin'
      ? 'Root user console sign-in'
      : `Root user activity: ${record.eventName ?? 'call'}${keyUserOf(record) ? ` for IAM user ${keyUserOf(record)}` : ''}`,
  checkNext: (record, finding) => [
    'ask the root credential holder whether this was them; root is for the few tasks that need it, and nothing else',
    `review the session: CloudTrail Event history, User name "root", from ${record.eventTime ?? 'the event time'}`,
    // A failed call (errorCode set) made no key: nothing to deactivate or delete.
    ...(record.errorCode ? [] : userKeyChecks(record)),
    ...(finding && ROOT_KEY_FINDINGS.has(finding)
      ? ['delete root access keys: IAM > Security credentials, signed in as root (aws iam get-account-summary shows AccountAccessKeysPresent)']
      : []),
    ...(finding === 'root-sign-in-without-mfa' || finding === 'root-sign-in-failed'
      ? ['make sure root has MFA (a hardware key, CIS 1.6) and that its mailbox is secure']
      : []),
    // The IAM change alert folds its finding on root's CreateAccessKey (CRITICAL here only when it succeeded) into this
    // page, which the digest never holds back; on root's other IAM changes it pages on its own.
    ...(record.eventName === 'CreateAccessKey' && record.severity === 'CRITICAL'
      ? ["the IAM change alert's record of the same event id, if that rule is on: its finding is folded into this page (remediation log)"]
      : []),
  ],
});
