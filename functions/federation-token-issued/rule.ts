import * as v from 'valibot';
import type { Config } from '../../shared/config.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { isIamName, regionArg } from '../../shared/aws/names.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { actorLabel, parseWith, type Actor, type CloudTrailRecord } from '../../shared/events/schema.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { alert, compliant, type Decision, type EventContext, type ResourceRef } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, checked, placeholder } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

const IAM_USER = 'AWS::IAM::User';
const FEDERATED_USER = 'AWS::STS::FederatedUser';
// GetFederationToken: Name 2-32 characters; DurationSeconds 900-129600 (default 43200); Policy a JSON string.
// CloudTrail logs them as `name`, `durationSeconds` (absent when defaulted), `policy`, `policyArns`
// (docs/cloudtrail-shapes.md#get-federation-token). The response's credentials are never read: a key id must not reach a log.
const Request = v.looseObject({
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  durationSeconds: v.optional(v.union([v.number(), v.pipe(v.string(), v.regex(/^\d{1,9}$/), v.transform(Number))])),
  policy: v.optional(v.unknown()),
  policyArns: v.optional(v.unknown()),
});
const Response = v.looseObject({ federatedUser: v.looseObject({ arn: v.pipe(v.string(), v.minLength(1), v.maxLength(2048)) }) });
const DEFAULT_SECONDS = 43_200;

/** How the session policy limits the federated user's permissions (the IAM user's, intersected with it). */
type Scope = 'everything' | 'limited' | 'none';

interface TokenFacts {
  readonly name: string;
  /** The federated user's ARN, from the response (absent when it is unreadable). */
  readonly arn: string | undefined;
  readonly seconds: number;
  readonly scope: Scope;
  readonly resources: readonly [ResourceRef];
}

type Settings = Config['rules']['federation-token-issued'];

/** What this rule reports: a federation token issued. */
export const FINDINGS = ['federation-token-issued'] as const;
type Finding = (typeof FINDINGS)[number];

const shown = (text: string): string => terminalValue(text.length > 100 ? `${text.slice(0, 100)}…` : text);

const Statement = v.looseObject({ Effect: v.optional(v.unknown()), Action: v.optional(v.unknown()) });
const Policy = v.looseObject({ Statement: v.union([v.array(Statement), Statement]) });

/** A session policy that allows every action leaves the IAM user's whole permissions to the federated user. */
function scopeOf(policy: unknown, policyArns: unknown): Scope {
  if (policy === undefined && policyArns === undefined) return 'none';
  let document = policy;
  if (typeof policy === 'string') {
    try {
      document = JSON.parse(policy);
    } catch {
      return 'limited';
    }
  }
  const parsed = v.safeParse(Policy, document);
  if (!parsed.success) return 'limited';
  const allowsAll = [parsed.output.Statement]
    .flat()
    .some((s) => s.Effect === 'Allow' && [s.Action].flat().some((action) => action === '*' || action === '*:*'));
  return allowsAll ? 'everything' : 'limited';
}

// The caller's IAM user is the record's one resource, so an exemption names it (a proxy application's user is meant to
// issue tokens, under any federated name); the federated user stands in only when no IAM user called (root).
const resourcesOf = (actor: Actor, federated: ResourceRef): [ResourceRef] =>
  actor.type === 'IAMUser' && actor.userName ? [{ type: IAM_USER, id: actor.userName }] : [federated];

function parse({ record, event }: EventContext): TokenFacts {
  const request = parseWith(Request, record.requestParameters, 'detail.requestParameters', event.id);
  const response = v.safeParse(Response, record.responseElements);
  const federated: ResourceRef = { type: FEDERATED_USER, id: response.success ? response.output.federatedUser.arn : request.name, name: request.name };
  return {
    name: request.name,
    arn: response.success ? response.output.federatedUser.arn : undefined,
    seconds: request.durationSeconds ?? DEFAULT_SECONDS,
    scope: scopeOf(request.policy, request.policyArns),
    resources: resourcesOf(record.actor, federated),
  };
}

const SCOPE_TEXT: Record<Scope, string> = {
  everything: "with a session policy allowing every action: it holds all of the IAM user's permissions",
  limited: "with a session policy: it holds the IAM user's permissions that the policy allows",
  none: 'with no session policy: it holds only what resource policies grant the federated user',
};

function decide(facts: TokenFacts, _state: undefined, _settings: Settings, { record }: EventContext): Decision {
  const hours = Math.round((facts.seconds / 3600) * 10) / 10;
  return alert(
    `${shown(actorLabel(record.actor))} issued a federation token for the federated user ${shown(facts.name)}${facts.arn ? ` (${shown(facts.arn)})` : ''}, valid for ${hours} hours ${SCOPE_TEXT[facts.scope]}. Such credentials cannot be revoked one by one (only a deny on the IAM user cuts them) and can open a console session: a known persistence technique`,
    'HIGH',
    facts.resources,
    'federation-token-issued',
  );
}

// A failed call issued no credentials: compliant, with the error, kept in the record (a denied attempt is in the log).
function failedCall(record: CloudTrailRecord): Decision {
  const request = v.safeParse(Request, record.requestParameters);
  return compliant(
    `the GetFederationToken call failed (${shown(record.errorCode ?? 'error')}): no federation token was issued`,
    request.success || (record.actor.type === 'IAMUser' && record.actor.userName)
      ? resourcesOf(record.actor, { type: FEDERATED_USER, id: request.success ? request.output.name : 'unknown' })
      : [],
  );
}

const titleOf = (record: RemediationRecord): string => {
  const resource = record.resources[0];
  return resource?.type === IAM_USER ? `Federation token issued by IAM user ${resource.id}` : `Federation token issued: ${resource?.id ?? 'unknown'}`;
};

function checkNext(record: RemediationRecord): readonly string[] {
  const region = regionArg(record.region);
  const user = checked(record.resources.find((r) => r.type === IAM_USER)?.id, 'IAM user name', isIamName);
  const noUser = 'invalid' in user;
  return [
    `who holds the access keys of the IAM user and whether a proxy application is meant to issue federation tokens with them (then exempt that user): ${awsCommand('iam', 'list-access-keys', { userName: user })}`,
    `what the federated user did: the calls signed with the key id of the token (in responseElements.credentials of the event, kept out of this message): ${awsCommand('cloudtrail', 'lookup-events', { lookupAttributes: placeholder('AttributeKey=AccessKeyId,AttributeValue=<access-key-id>'), region })}, and a console sign-in (GetSigninToken, ConsoleLogin) by the federated user`,
    `if unintended: its permissions are those of the IAM user, so a deny of every action on the user, conditioned on aws:TokenIssueTime before now, cuts it (${awsCommand('iam', 'put-user-policy', { userName: user, policyName: 'deny-old-federation-tokens', policyDocument: placeholder('<policy-denying-every-action-to-tokens-issued-before-now>') })}); then deactivate the keys that issued it${noUser ? '' : ` (${awsCommand('iam', 'update-access-key', { userName: user, accessKeyId: placeholder('<access-key-id>'), status: 'Inactive' })})`}`,
  ];
}

/** STS GetFederationToken: long-lived federated credentials from an IAM user's keys. */
export const federationTokenIssued = alertRule<TokenFacts, undefined, Record<string, never>, Settings, Finding>({
  id: 'federation-token-issued',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => config.rules['federation-token-issued'],
  parse,
  decide,
  failedCall,
  title: titleOf,
  checkNext,
});
