import type { LambdaClient } from '@aws-sdk/client-lambda';
import * as v from 'valibot';
import { permissionsOf, planOf } from '../../shared/actions/action.js';
import { grantOfStatement, policyStatements, principalOf, sameGrant, statementWithSid, type Grant } from '../../shared/actions/lambda-permission.js';
import { functionRefOf, isFunctionName, isQualifier } from '../../shared/actions/lambda-names.js';
import { removePermission } from '../../shared/actions/lambda-remove-permission.js';
import { awsCall } from '../../shared/aws/errors.js';
import { lambdaClient } from '../../shared/aws/lambda.js';
import { regionArg } from '../../shared/aws/names.js';
import { organizationAccounts } from '../../shared/aws/organizations.js';
import type { Config } from '../../shared/config.js';
import type { ControlId } from '../../shared/controls.js';
import { ParseError } from '../../shared/errors.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import { judge, orgWithoutReading, outsidePolicyOf, type Grantee, type OrgAccounts, type OutsidePolicy, type OutsideView } from '../../shared/outside.js';
import {
  alert,
  compliant,
  violation,
  whereOf,
  type Decision,
  type Message,
  type PlannedAction,
  type ResourceRef,
  type Rule,
  type RunContext,
} from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, checked, shellQuote } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

const FUNCTION = 'AWS::Lambda::Function';

interface Target {
  readonly resources: readonly [ResourceRef];
  readonly functionName: string;
  readonly qualifier: string | undefined;
}

/** What the event says: a permission added to a function's policy, or a function URL created or changed. */
export type LambdaAccessFacts =
  | (Target & { readonly kind: 'permission'; readonly grant: Grant; readonly statement: Record<string, unknown> | undefined })
  | (Target & { readonly kind: 'url'; readonly authType: string | undefined });

/** The statement with the event's Sid now (undefined: gone), and the organisation's accounts as far as they were read. */
export interface LambdaAccessState {
  readonly statement: Record<string, unknown> | undefined;
  readonly org: OrgAccounts;
}

type Clients = { readonly lambda: LambdaClient; readonly orgAccounts: () => Promise<OrgAccounts> };
type Settings = { readonly enabled: boolean; readonly outside: OutsidePolicy };

const ACTIONS = [removePermission];
const LIST_ACCOUNTS = 'Organizations.ListAccounts';
const GET_POLICY = 'Lambda.GetPolicy';

/**
 * Public (Security Hub Lambda.1), an outside account or organisation, one it could not judge (alerted, left), a
 * public function URL (alerted, never removed: webhooks use them), a service principal with no source condition
 * (alerted: any account's resource of that service may invoke it).
 */
export const FINDINGS = ['lambda-public', 'lambda-outside', 'lambda-unjudged', 'function-url-public', 'service-unscoped'] as const;
type Finding = (typeof FINDINGS)[number];

// A resource ARN's account, where it has one (an S3 bucket's ARN has none).
const ARN_ACCOUNT = /^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):/;
const SERVICE_PRINCIPAL = /^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?$/;
const IAM_ARN_ACCOUNT = /^arn:aws[a-z-]*:iam::(\d{12}):(?:user|role)\/[\w+=,.@/-]+$/;

const Word = v.pipe(v.string(), v.minLength(1), v.maxLength(2048), v.regex(/^\S+$/, 'expected a value without spaces'));
const Flag = v.union([
  v.boolean(),
  v.pipe(
    v.picklist(['true', 'false']),
    v.transform((x) => x === 'true'),
  ),
]);
// Athena and Lake exports turn an all-digit string (an account id) into a number, a leading zero lost: read it back.
const AccountNumber = v.pipe(
  v.number(),
  v.integer(),
  v.minValue(0),
  v.maxValue(999_999_999_999),
  v.transform((n) => String(n).padStart(12, '0')),
);
const PermissionRequest = v.looseObject({
  functionName: v.string(),
  statementId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,100}$/, 'expected a statement id (letters, digits, - _ ., at most 100)')),
  action: v.pipe(v.string(), v.regex(/^(lambda:[*]|lambda:[A-Za-z]+|[*])$/, 'expected a lambda: action')),
  principal: v.union([Word, AccountNumber]),
  qualifier: v.optional(v.nullable(v.string())),
  sourceArn: v.optional(v.nullable(Word)),
  sourceAccount: v.optional(v.nullable(v.union([v.pipe(v.string(), v.regex(/^\d{12}$/, 'expected a 12-digit account id')), AccountNumber]))),
  principalOrgID: v.optional(v.nullable(v.pipe(v.string(), v.regex(/^o-[a-z0-9]{10,32}$/, 'expected an organization id')))),
  functionUrlAuthType: v.optional(v.nullable(v.picklist(['NONE', 'AWS_IAM']))),
  eventSourceToken: v.optional(v.nullable(Word)),
  invokedViaFunctionUrl: v.optional(v.nullable(Flag)),
});
const UrlRequest = v.looseObject({
  functionName: v.string(),
  qualifier: v.optional(v.nullable(v.string())),
  authType: v.optional(v.nullable(v.picklist(['NONE', 'AWS_IAM']))),
});
const Response = v.looseObject({ statement: v.string() });

/** The function (and qualifier) a call names: another account's ARN, or two different qualifiers, is no call Lambda took here. */
function targetOf(raw: string, qualifierField: string | null | undefined, ownAccount: string | undefined, eventId: string | null): Target {
  const field = 'detail.requestParameters.functionName';
  const ref = functionRefOf(raw);
  if (!ref) throw new ParseError(field, 'expected a function name, partial ARN or ARN', eventId);
  const { account, name, qualifier: inName } = ref;
  if (account !== undefined && ownAccount !== undefined && account !== ownAccount) throw new ParseError(field, "names another account's function", eventId);
  const qualifier = inName ?? qualifierField ?? undefined;
  if (inName !== undefined && qualifierField && qualifierField !== inName)
    throw new ParseError('detail.requestParameters.qualifier', 'differs from the qualifier in functionName', eventId);
  if (qualifier !== undefined && !isQualifier(qualifier))
    throw new ParseError('detail.requestParameters.qualifier', 'expected a version number or alias name', eventId);
  const id = name;
  return { functionName: id, qualifier, resources: [{ type: FUNCTION, id, ...(qualifier ? { name: `${id}:${qualifier}` } : {}) }] };
}

/** The statement the call added, as its response logged it (the policy before any read; offline's `previous`). */
function loggedStatement(response: unknown): Record<string, unknown> | undefined {
  const parsed = v.safeParse(Response, response);
  if (!parsed.success) return undefined;
  try {
    const statement = JSON.parse(parsed.output.statement) as unknown;
    return typeof statement === 'object' && statement !== null && !Array.isArray(statement) ? (statement as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Who a grant lets in, as far as the request tells: the grantee to judge, or a reason it is not judged as one. */
export type Exposure =
  | { readonly kind: 'url'; readonly why: string }
  | { readonly kind: 'scoped'; readonly why: string }
  | { readonly kind: 'service'; readonly service: string }
  | { readonly kind: 'grantee'; readonly grantee: Grantee; readonly via: string }
  | { readonly kind: 'org'; readonly orgId: string }
  | { readonly kind: 'unknown'; readonly why: string };

const shown = (value: string) => terminalValue(value.length > 200 ? `${value.slice(0, 200)}…` : value);
/** An event value in a reason that may also hold a command: quoted as the command's values are, so no line mixes them unquoted. */
const quoted = (value: string) => shellQuote(shown(value));

export function exposureOf(grant: Grant): Exposure {
  const action = grant.action.toLowerCase();
  // A public function URL needs exactly these statements (since October 2025 both): they are how webhooks work.
  if (action === 'lambda:invokefunctionurl' && grant.functionUrlAuthType?.toUpperCase() === 'NONE')
    return { kind: 'url', why: 'lambda:InvokeFunctionUrl with FunctionUrlAuthType NONE: the function URL is open to anyone on the internet' };
  if (action === 'lambda:invokefunction' && grant.invokedViaFunctionUrl === true)
    return { kind: 'url', why: 'lambda:InvokeFunction only through the function URL (InvokedViaFunctionUrl): whoever the URL admits may invoke it' };
  // A source condition scopes the grant to that account's (or that resource's) calls, whoever the principal.
  if (grant.sourceAccount !== undefined) return { kind: 'grantee', grantee: { kind: 'account', id: grant.sourceAccount }, via: 'SourceAccount' };
  const sourceAccount = grant.sourceArn === undefined ? undefined : ARN_ACCOUNT.exec(grant.sourceArn)?.[1];
  if (sourceAccount !== undefined) return { kind: 'grantee', grantee: { kind: 'account', id: sourceAccount }, via: 'the SourceArn' };
  if (grant.sourceArn !== undefined) return { kind: 'scoped', why: `scoped to the source ${quoted(grant.sourceArn)} (SourceArn)` };
  if (grant.principal === '*')
    return grant.principalOrgId !== undefined
      ? { kind: 'org', orgId: grant.principalOrgId }
      : { kind: 'grantee', grantee: { kind: 'public' }, via: 'principal *' };
  if (/^\d{12}$/.test(grant.principal)) return { kind: 'grantee', grantee: { kind: 'account', id: grant.principal }, via: 'the principal' };
  const iamAccount = IAM_ARN_ACCOUNT.exec(grant.principal)?.[1];
  if (iamAccount !== undefined) return { kind: 'grantee', grantee: { kind: 'account', id: iamAccount }, via: `the principal ${shown(grant.principal)}` };
  if (SERVICE_PRINCIPAL.test(grant.principal)) return { kind: 'service', service: grant.principal };
  return { kind: 'unknown', why: `the principal ${quoted(grant.principal)} is not a form it knows` };
}

/**
 * What the sweep asks of a statement now: would the rule remove it (`outside`), alert it as unjudged (`unknown`), or
 * neither (`inside`: scoped or inside; `alert-only`: a public function URL or an unscoped service, told by their event).
 */
export function judgedExposure(exposure: Exposure, policy: OutsidePolicy, view: OutsideView): 'outside' | 'unknown' | 'inside' | 'alert-only' {
  switch (exposure.kind) {
    case 'url':
    case 'service':
      return 'alert-only';
    case 'scoped':
      return 'inside';
    case 'unknown':
      return 'unknown';
    case 'org': {
      const own = policy.organization?.id;
      return own === undefined ? 'unknown' : own === exposure.orgId ? 'inside' : 'outside';
    }
    case 'grantee': {
      const judgement = judge(exposure.grantee, view);
      return judgement.outside === true ? 'outside' : judgement.outside === 'unknown' ? 'unknown' : 'inside';
    }
  }
}

const label = (facts: Pick<Target, 'functionName' | 'qualifier'>) => `Lambda function ${facts.functionName}${facts.qualifier ? `:${facts.qualifier}` : ''}`;

/** The command that removes the statement by hand, every value shell-quoted. */
function removeCommand(facts: Target & { readonly grant: Grant }, region: string): string {
  return awsCommand('lambda', 'remove-permission', {
    region: regionArg(region),
    functionName: checked(facts.functionName, 'function name', isFunctionName),
    statementId: facts.grant.statementId,
    qualifier: facts.qualifier === undefined ? undefined : checked(facts.qualifier, 'qualifier', isQualifier),
  });
}

/** The command that makes a function URL require IAM authentication. */
export function urlToIamCommand(functionName: string, qualifier: string | undefined, region: string): string {
  return awsCommand('lambda', 'update-function-url-config', {
    region: regionArg(region),
    functionName: checked(functionName, 'function name', isFunctionName),
    qualifier: qualifier === undefined ? undefined : checked(qualifier, 'qualifier', isQualifier),
    authType: 'AWS_IAM',
  });
}

function decidePermission(
  facts: Extract<LambdaAccessFacts, { kind: 'permission' }>,
  state: LambdaAccessState | undefined,
  settings: Settings,
  context: RunContext,
): Decision {
  const what = `${label(facts)}, statement ${facts.grant.statementId} (${facts.grant.action} for ${quoted(facts.grant.principal)})`;
  // Dry-run and live decide from the policy now: a statement removed or replaced since is not removed on this event's word.
  let statement = facts.statement;
  if (state) {
    if (!state.statement) return compliant(`${what} is no longer in the function's policy`, facts.resources);
    const now = grantOfStatement(state.statement);
    if ('unreadable' in now || !sameGrant(now.grant, facts.grant))
      return compliant(`${what}: the statement with that Sid now grants something else (replaced since); its own event is judged on its own`, facts.resources);
    statement = state.statement;
  }
  const where = whereOf(context);
  const exposure = exposureOf(facts.grant);
  const byHand = `remove it by hand if unintended: ${removeCommand(facts, where.region)}`;
  switch (exposure.kind) {
    case 'url':
      return alert(
        `${what}: ${exposure.why}. Left as is (public function URLs serve webhooks on purpose); ${byHand}`,
        'HIGH',
        facts.resources,
        'function-url-public',
      );
    case 'scoped':
      return compliant(`${what} is ${exposure.why}`, facts.resources);
    case 'service':
      // The confused deputy: any account's resource of that service may invoke the function. Alerted, not removed:
      // older templates grant this way, and removing it would break the integration.
      return alert(
        `${what}: the service principal ${shown(exposure.service)} is granted with no SourceArn or SourceAccount, so a resource of that service in any account may invoke the function; re-grant it with --source-arn or --source-account, then ${byHand}`,
        'MEDIUM',
        facts.resources,
        'service-unscoped',
      );
    case 'unknown':
      return alert(`${what}: ${exposure.why}, left as is; ${byHand}`, 'HIGH', facts.resources, 'lambda-unjudged');
    case 'org': {
      const own = settings.outside.organization?.id;
      if (own === undefined)
        return alert(
          `${what} admits the organisation ${exposure.orgId}; no organization is configured, so whether it is this one could not be told. Left as is; ${byHand}`,
          'HIGH',
          facts.resources,
          'lambda-unjudged',
        );
      if (own === exposure.orgId) return compliant(`${what} admits only this organisation (${exposure.orgId})`, facts.resources);
      return violation(
        `${what} admits another organisation's accounts: ${exposure.orgId}`,
        'HIGH',
        facts.resources,
        [planRemove(facts, statement)],
        'lambda-outside',
      );
    }
    case 'grantee': {
      const org = state?.org ?? orgWithoutReading(settings.outside, "offline: no calls, so the organisation's accounts were not read");
      const judgement = judge(exposure.grantee, { policy: settings.outside, ownAccount: where.account, org });
      if (judgement.outside === false) return compliant(`${what} admits only inside (${exposure.via}): ${judgement.why}`, facts.resources);
      if (judgement.outside === 'unknown')
        return alert(`${what} (${exposure.via}) could not be judged, left as is: ${judgement.why}; ${byHand}`, 'HIGH', facts.resources, 'lambda-unjudged');
      return violation(
        `${what} opens the function to ${judgement.why} (${exposure.via})`,
        judgement.public ? 'CRITICAL' : 'HIGH',
        facts.resources,
        [planRemove(facts, statement)],
        judgement.public ? 'lambda-public' : 'lambda-outside',
      );
    }
  }
}

/** The remove of exactly the statement, with it as `previous` (what undo re-creates) when it was read or logged. */
function planRemove(facts: Extract<LambdaAccessFacts, { kind: 'permission' }>, statement: Record<string, unknown> | undefined): PlannedAction {
  const params = { FunctionName: facts.functionName, StatementId: facts.grant.statementId, ...(facts.qualifier ? { Qualifier: facts.qualifier } : {}) };
  return statement
    ? planOf(removePermission, facts.resources[0], params, { PolicyStatement: JSON.stringify(statement) })
    : planOf(removePermission, facts.resources[0], params);
}

function decide(facts: LambdaAccessFacts, state: LambdaAccessState | undefined, settings: Settings, context: RunContext): Decision {
  if (facts.kind === 'permission') return decidePermission(facts, state, settings, context);
  if (facts.authType !== 'NONE')
    return compliant(`the function URL of ${label(facts)} ${facts.authType ? `requires ${facts.authType}` : 'keeps its auth type'}`, facts.resources);
  return alert(
    `the function URL of ${label(facts)} has AuthType NONE: anyone on the internet may call it, as far as the policy of the function allows. Left as is (webhooks use it on purpose); to require IAM: ${urlToIamCommand(facts.functionName, facts.qualifier, whereOf(context).region)}`,
    'HIGH',
    facts.resources,
    'function-url-public',
  );
}

async function inspect(facts: LambdaAccessFacts, { lambda, orgAccounts }: Clients, _context: unknown, settings: Settings): Promise<LambdaAccessState> {
  const org: OrgAccounts = settings.outside.organization ? await orgAccounts() : { kind: 'single-account' };
  // A function URL's auth type is the event's own word: nothing in the policy changes that alert.
  if (facts.kind === 'url') return { statement: undefined, org };
  const statements = await awsCall(GET_POLICY, facts.functionName, () => policyStatements(lambda, facts.functionName, facts.qualifier));
  return { statement: statementWithSid(statements, facts.grant.statementId), org };
}

function titleFor(outcome: string, what: string): string {
  switch (outcome) {
    case 'remediated':
      return `Outside access removed from ${what}`;
    case 'would-remediate':
      return `Would remove outside access from ${what}`;
    case 'failed':
      return `FAILED to remove outside access from ${what}`;
    default:
      return `Access to ${what}: ${outcome}`;
  }
}

export const publicLambdaFunction = {
  id: 'public-lambda-function',
  controls: { byFinding: { 'lambda-public': ['Lambda.1'] } satisfies Partial<Record<Finding, readonly ControlId[]>> },
  pattern: pattern as EventPattern,
  permissions: { [GET_POLICY]: 'lambda:GetPolicy', [LIST_ACCOUNTS]: 'organizations:ListAccounts', ...permissionsOf(ACTIONS) },
  // The organisation's accounts are listed from the central account (organisation mode only): no member role holds it.
  ownAccountApis: [LIST_ACCOUNTS],
  actions: ACTIONS,
  settings: (config: Config) => ({ ...config.rules['public-lambda-function'], outside: outsidePolicyOf(config) }),
  clients: (options) => ({
    lambda: lambdaClient(options),
    orgAccounts: organizationAccounts({ region: options.region, endpoint: options.endpoint, readOnly: options.readOnly }),
  }),
  parse({ record, event }): LambdaAccessFacts {
    const own = typeof record.recipientAccountId === 'string' ? record.recipientAccountId : undefined;
    if (record.eventName.startsWith('AddPermission')) {
      const r = parseWith(PermissionRequest, record.requestParameters, 'detail.requestParameters', event.id);
      const target = targetOf(r.functionName, r.qualifier, own, event.id);
      const grant: Grant = {
        statementId: r.statementId,
        action: r.action,
        principal: principalOf(r.principal),
        ...(r.sourceArn ? { sourceArn: r.sourceArn } : {}),
        ...(r.sourceAccount ? { sourceAccount: r.sourceAccount } : {}),
        ...(r.principalOrgID ? { principalOrgId: r.principalOrgID } : {}),
        ...(r.functionUrlAuthType ? { functionUrlAuthType: r.functionUrlAuthType } : {}),
        ...(r.eventSourceToken ? { eventSourceToken: r.eventSourceToken } : {}),
        ...(r.invokedViaFunctionUrl != null ? { invokedViaFunctionUrl: r.invokedViaFunctionUrl } : {}),
      };
      return { kind: 'permission', ...target, grant, statement: loggedStatement(record.responseElements) };
    }
    const r = parseWith(UrlRequest, record.requestParameters, 'detail.requestParameters', event.id);
    return { kind: 'url', ...targetOf(r.functionName, r.qualifier, own, event.id), authType: r.authType ?? undefined };
  },
  inspect,
  decide,
  message(record): Message {
    const resource = record.resources[0];
    const what = resource ? `Lambda function ${resource.name ?? resource.id}` : 'unknown Lambda function';
    if (record.finding === 'function-url-public') return { title: `Public function URL on ${what}`, lines: [] };
    return { title: titleFor(record.outcome, what), lines: [] };
  },
} satisfies Rule<LambdaAccessFacts, LambdaAccessState, Clients, Settings>;
