import { ListAttachedRolePoliciesCommand, type IAMClient } from '@aws-sdk/client-iam';
import * as v from 'valibot';
import { permissionsOf, planOf, stepOf } from '../../shared/actions/action.js';
import { trustPolicyText, updateAssumeRolePolicy } from '../../shared/actions/iam-update-assume-role-policy.js';
import { awsCall } from '../../shared/aws/errors.js';
import { iamClient } from '../../shared/aws/iam.js';
import { isIamName } from '../../shared/aws/names.js';
import { organizationAccounts } from '../../shared/aws/organizations.js';
import type { Config } from '../../shared/config.js';
import { ParseError } from '../../shared/errors.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import { listedForReason, orgWithoutReading, outsidePolicyOf, type OrgAccounts, type OutsidePolicy, type OutsideView } from '../../shared/outside.js';
import { admissionsOf, policyDocumentOf, withoutAdmissions, type Admission, type PolicyDocument } from '../../shared/outside-principals.js';
import { alert, compliant, violation, whereOf, type Decision, type Message, type Rule, type RunContext } from '../../shared/rule.js';
import { awsCommand, checked } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

/** What the event says: the role, and the trust policy the call gave it (never logged: it only names principals). */
export interface TrustFacts {
  readonly role: string;
  readonly resources: readonly [{ readonly type: 'AWS::IAM::Role'; readonly id: string }];
  /** Undefined only from the sweep, for a listed trust policy that did not read: the one read now is judged instead. */
  readonly document: PolicyDocument | undefined;
}

/** The role's trust policy now (JSON text, decoded), whether an administrator policy is attached, and the organisation. */
export interface TrustState {
  readonly current: string;
  readonly admin: string | undefined;
  readonly org: OrgAccounts;
}

type Clients = { readonly iam: IAMClient; readonly orgAccounts: () => Promise<OrgAccounts> };
type Settings = { readonly enabled: boolean; readonly remediate: boolean; readonly outside: OutsidePolicy; readonly adminPolicyArns: readonly string[] };

const ACTIONS = [updateAssumeRolePolicy];
const GET_ROLE = 'IAM.GetRole';
const LIST_ATTACHED = 'IAM.ListAttachedRolePolicies';
const LIST_ACCOUNTS = 'Organizations.ListAccounts';

/** Everyone may assume it; a named outside account may; (alerted, left) one it could not judge. */
export const FINDINGS = ['trust-public', 'trust-outside', 'trust-unjudged'] as const;

/**
 * What stays when every statement admitted outside: a trust policy cannot be empty, so one statement denying every
 * AWS principal the role. The role is kept (evidence), and no one can assume it until a person decides.
 */
export const NO_ONE_MAY_ASSUME = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'TrailguardNoOutsideTrust', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }],
} as const;

const Request = v.looseObject({
  roleName: v.pipe(v.string(), v.check(isIamName, 'an IAM role name')),
  assumeRolePolicyDocument: v.optional(v.unknown()),
  policyDocument: v.optional(v.unknown()),
});

/** `Action` (or `NotAction`) that lets an AWS principal call sts:AssumeRole: `sts:AssumeRole`, `sts:*`, `*`, `sts:Assume*`. */
function admitsAssumeRole(statement: Record<string, unknown>): boolean {
  const matches = (pattern: unknown) =>
    typeof pattern === 'string'
    && new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
      'i',
    ).test('sts:AssumeRole');
  const list = (value: unknown) => (Array.isArray(value) ? value : value === undefined ? [] : [value]);
  if (statement.NotAction !== undefined) return !list(statement.NotAction).some(matches);
  return list(statement.Action).some(matches);
}

/** What the rule judges in a trust policy: each AWS principal it lets assume the role that is outside, or not judged. */
export function outsideAdmissionsOf(document: PolicyDocument, view: OutsideView): readonly Admission[] {
  return admissionsOf(document, view, admitsAssumeRole).filter((a) => a.judgement.outside !== false);
}

const whys = (list: readonly Admission[]) => listedForReason(list.map((a) => a.judgement.why));

/** The trust policy less the admissions dropped; one Deny-all statement when nothing would remain. */
function rewritten(document: PolicyDocument, dropped: readonly Admission[]): { readonly text: string; readonly lockedOut: boolean } {
  const result = withoutAdmissions(document, dropped);
  return result.statements === 0 ? { text: JSON.stringify(NO_ONE_MAY_ASSUME), lockedOut: true } : { text: JSON.stringify(result.document), lockedOut: false };
}

function decide(facts: TrustFacts, state: TrustState | undefined, settings: Settings, context: RunContext): Decision {
  const { role, resources } = facts;
  const org = state?.org ?? orgWithoutReading(settings.outside, "offline: no calls, so the organisation's accounts were not read");
  const view = { policy: settings.outside, ownAccount: whereOf(context).account, org };
  // The sweep's facts lack the document when the listed one did not read: what is trusted now is judged.
  const document = facts.document ?? (state ? policyDocumentOf(state.current) : undefined);
  if (!document) return alert(`the trust policy of role ${role} did not read as JSON: judge it by hand`, 'HIGH', resources, 'trust-unjudged');
  const asked = outsideAdmissionsOf(document, view);
  if (asked.length === 0) return compliant(`the trust policy of role ${role} admits no AWS principal outside`, resources);
  // Dry-run and live decide from the trust policy now: a principal dropped since (by a person, or an earlier run) is not dropped again.
  const currentDocument = state ? policyDocumentOf(state.current) : document;
  if (!currentDocument) return alert(`the trust policy of role ${role} did not read as JSON: judge it by hand`, 'HIGH', resources, 'trust-unjudged');
  const askedValues = new Set(asked.map((a) => a.value));
  const now = admissionsOf(currentDocument, view, admitsAssumeRole).filter((a) => askedValues.has(a.value));
  const targets = now.filter((a) => a.judgement.outside === true);
  const unjudged = now.filter((a) => a.judgement.outside === 'unknown');
  if (targets.length === 0 && unjudged.length > 0)
    return alert(`role ${role} trusts principals it could not judge, left trusted: ${whys(unjudged)}`, 'HIGH', resources, 'trust-unjudged');
  if (targets.length === 0) return compliant(`role ${role} no longer trusts what the call admitted outside`, resources);
  const isPublic = targets.some((a) => a.judgement.outside === true && a.judgement.public);
  const guarded = targets.every((a) => a.externalId);
  const severity = isPublic || state?.admin ? 'CRITICAL' : guarded ? 'MEDIUM' : 'HIGH';
  const { text, lockedOut } = rewritten(currentDocument, targets);
  const plan = planOf(
    updateAssumeRolePolicy,
    resources[0],
    { RoleName: role, PolicyDocument: text },
    state ? { PolicyDocument: JSON.stringify(currentDocument) } : undefined,
  );
  const notes = [
    state?.admin ? `; it holds the administrator policy ${state.admin}` : '',
    guarded && !isPublic ? '; every such statement requires sts:ExternalId' : '',
    unjudged.length > 0 ? `; left trusted, not judged: ${whys(unjudged)}` : '',
    lockedOut ? '; nothing else is trusted, so the role is left with one statement denying everyone' : '',
  ].join('');
  const reason = `role ${role} trusts outside: ${whys(targets)}${notes}`;
  const finding = isPublic ? 'trust-public' : 'trust-outside';
  if (!settings.remediate) {
    // Alert by default (legitimate cross-account roles exist): what it would do, and the command to do it by hand.
    const step = stepOf(updateAssumeRolePolicy, plan, 'us-east-1');
    return alert(`${reason}; remediate is off: to drop them, ${updateAssumeRolePolicy.command(step as never)}`, severity, resources, finding);
  }
  return violation(reason, severity, resources, [plan], finding);
}

async function inspect(facts: TrustFacts, { iam, orgAccounts }: Clients, _context: unknown, settings: Settings): Promise<TrustState> {
  const [current, attached] = await Promise.all([
    awsCall(GET_ROLE, facts.role, () => trustPolicyText(iam, facts.role)),
    awsCall(LIST_ATTACHED, facts.role, async () => {
      // One page (100) is enough to find an administrator policy on any role IAM lets exist (at most 20 managed policies).
      const answer = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: facts.role, MaxItems: 100 }));
      return (answer.AttachedPolicies ?? []).flatMap((p) => (p.PolicyArn ? [p.PolicyArn] : []));
    }),
  ]);
  const bare = (arn: string) => arn.replace(/^arn:aws[a-z-]*:/, '');
  const admin = attached.find((arn) => settings.adminPolicyArns.some((a) => bare(a) === bare(arn)));
  const org: OrgAccounts = settings.outside.organization ? await orgAccounts() : { kind: 'single-account' };
  return { current, admin, org };
}

function titleFor(outcome: string, role: string): string {
  switch (outcome) {
    case 'remediated':
      return `Outside trust removed from role ${role}`;
    case 'would-remediate':
      return `Would remove outside trust from role ${role}`;
    case 'failed':
      return `FAILED to remove outside trust from role ${role}`;
    case 'alerted':
      return `Role ${role} trusts an outside account`;
    default:
      return `Trust policy of role ${role}: ${outcome}`;
  }
}

export const outsideRoleTrust = {
  id: 'outside-role-trust',
  pattern: pattern as EventPattern,
  permissions: {
    [GET_ROLE]: 'iam:GetRole',
    [LIST_ATTACHED]: 'iam:ListAttachedRolePolicies',
    [LIST_ACCOUNTS]: 'organizations:ListAccounts',
    ...permissionsOf(ACTIONS),
  },
  // The organisation's accounts are listed from the central account (organisation mode only): no member role holds it.
  ownAccountApis: [LIST_ACCOUNTS],
  actions: ACTIONS,
  settings: (config: Config) => ({
    ...config.rules['outside-role-trust'],
    outside: outsidePolicyOf(config),
    adminPolicyArns: config.rules['iam-policy-change'].adminPolicyArns,
  }),
  clients: (options) => ({
    iam: iamClient(options),
    orgAccounts: organizationAccounts({ region: options.region, endpoint: options.endpoint, readOnly: options.readOnly }),
  }),
  parse({ record, event }): TrustFacts {
    const field = 'detail.requestParameters';
    const request = parseWith(Request, record.requestParameters, field, event.id);
    const key = record.eventName === 'CreateRole' ? 'assumeRolePolicyDocument' : 'policyDocument';
    const document = policyDocumentOf(request[key]);
    // IAM took the call, so the document was a policy: one that does not read is a broken event, said so.
    if (!document) throw new ParseError(`${field}.${key}`, 'expected a trust policy (JSON, or URL-encoded JSON)', event.id);
    return { role: request.roleName, resources: [{ type: 'AWS::IAM::Role', id: request.roleName }], document };
  },
  inspect,
  decide,
  message(record): Message {
    const role = record.resources[0]?.id ?? 'unknown';
    const previous = v.safeParse(v.object({ PolicyDocument: v.string() }), record.actions[0]?.previous);
    // The trust policy as it is now, for the person who decides (it is not in the event's record).
    const now = `Trust policy now: ${awsCommand('iam', 'get-role', { roleName: checked(role, 'role name', isIamName), query: 'Role.AssumeRolePolicyDocument' })}`;
    return {
      title: titleFor(record.outcome, role),
      lines: [...(previous.success ? [`Trust policy before: ${previous.output.PolicyDocument}`] : []), ...(record.outcome === 'compliant' ? [] : [now])],
    };
  },
} satisfies Rule<TrustFacts, TrustState, Clients, Settings>;
