import type { Config } from '../../shared/config.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { isIamName } from '../../shared/aws/names.js';
import { parseSignIn, signInResources, type SignIn } from '../../shared/alerts/sign-in.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { actorLabel, type Actor } from '../../shared/events/schema.js';
import { alert, compliant, notApplicable, type Decision, type ResourceRef } from '../../shared/rule.js';
import { awsCommand, checked } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

interface SignInFacts {
  readonly resources: readonly ResourceRef[];
  readonly signIn: SignIn;
  readonly actor: Actor;
}

type Settings = Config['rules']['console-signin-without-mfa'];

/** What this rule reports: an IAM user's console sign-in without MFA, and one whose MFA use the record cannot confirm. */
export const FINDINGS = ['sign-in-without-mfa', 'sign-in-mfa-unconfirmed'] as const;
type Finding = (typeof FINDINGS)[number];

function decide({ resources, signIn, actor }: SignInFacts): Decision {
  if (signIn.result !== 'Success') return notApplicable("not a successful sign-in (failures are console-signin-failures' to count)");
  switch (actor.type) {
    case 'IAMUser':
      break;
    case 'Root':
      return notApplicable('a root sign-in: root-activity alerts on every one, with its MFA status');
    case 'AssumedRole':
    case 'FederatedUser':
      // SAML and IAM Identity Center sign-ins record MFAUsed "No" whatever the identity provider checked.
      return notApplicable(
        `a federated sign-in (${actorLabel(actor)}): MFA is the identity provider's to enforce, and CloudTrail cannot show it, so it is excluded`,
      );
    default:
      return notApplicable(`a sign-in by a ${actor.type === 'other' ? actor.rawType : actor.type} identity: only IAM users are checked`);
  }
  const user = actor.userName ?? actorLabel(actor);
  switch (signIn.mfaUsed) {
    case 'Yes':
      return compliant(`IAM user ${user} signed in to the console with MFA`, resources);
    case 'No':
      return alert(`IAM user ${user} signed in to the console WITHOUT MFA`, 'MEDIUM', resources, 'sign-in-without-mfa');
    default:
      return alert(
        `IAM user ${user} signed in to the console, and MFA use cannot be confirmed: the record has ${signIn.mfaUsed === undefined ? 'no MFAUsed' : `MFAUsed "${signIn.mfaUsed}"`}`,
        'LOW',
        resources,
        'sign-in-mfa-unconfirmed',
      );
  }
}

/** A successful console sign-in by an IAM user without MFA (`additionalEventData.MFAUsed = "No"`). */
export const consoleSigninWithoutMfa = alertRule<SignInFacts, undefined, Record<string, never>, Settings, Finding>({
  id: 'console-signin-without-mfa',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  controls: { other: ['IAM.5', 'CloudWatch.3'] },
  settings: (config: Config) => config.rules['console-signin-without-mfa'],
  parse: ({ record, event }) => ({ resources: signInResources(record, event.account), signIn: parseSignIn(record, event.id), actor: record.actor }),
  decide: (facts) => decide(facts),
  title: (record) => `Console sign-in without MFA: ${record.resources[0]?.id ?? 'IAM user'}`,
  checkNext: (record) => {
    const user = record.resources[0]?.id ?? '<user>';
    return [
      `ask ${user} whether this sign-in was theirs (source IP and user agent below)`,
      `list their MFA devices: ${awsCommand('iam', 'list-mfa-devices', { userName: checked(record.resources[0]?.id, 'user name', isIamName) })}; none means a password alone opens the console`,
      'require MFA: an IAM policy denying all but MFA setup when aws:MultiFactorAuthPresent is false (CIS 1.10)',
    ];
  },
});
