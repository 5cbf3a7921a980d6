/**
 * The AWS principals a resource or trust policy admits, judged inside or outside (shared/outside.ts), and the same
 * document with exactly the outside ones dropped: outside-role-trust and outside-bucket-policy read and rewrite
 * policies with this, one statement at a time, so what they drop is exactly what admitted an outside account.
 */
import { documentOf } from './alerts/policy-document.js';
import { asList } from './events/normalize.js';
import { judge, type Grantee, type Judgement, type OutsidePolicy, type OutsideView } from './outside.js';

/** A policy document as an object with its statements, or undefined when the text is not a policy. */
export interface PolicyDocument {
  readonly [key: string]: unknown;
  readonly Statement?: unknown;
}

/** A logged or read policy (object, JSON string, URL-encoded JSON string) as a document, or undefined. */
export function policyDocumentOf(raw: unknown): PolicyDocument | undefined {
  const document = documentOf(raw);
  return document !== null && typeof document === 'object' && !Array.isArray(document) ? (document as PolicyDocument) : undefined;
}

/** The statements, as a list (a policy may give one statement as an object). */
export function statementsOf(document: PolicyDocument): readonly unknown[] {
  return asList(document.Statement as unknown);
}

// `arn:aws:iam::<account>:root|user/…|role/…` and `arn:aws:sts::<account>:assumed-role/…`: the account is what is judged.
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):[\w+=,.@/-]+$/;

/**
 * Whom one AWS principal value names: everyone (`*`), an account (an id or any ARN of it), or undefined for what
 * names no account (a unique id such as `AROA…`, which IAM shows in place of a principal that was deleted).
 */
export function granteeOfPrincipal(value: string): Grantee | undefined {
  if (value === '*') return { kind: 'public' };
  if (/^\d{12}$/.test(value)) return { kind: 'account', id: value };
  const account = PRINCIPAL_ARN.exec(value)?.[1];
  return account ? { kind: 'account', id: account } : undefined;
}

/** The AWS principal values of a statement: `"Principal": "*"` is everyone; Service and Federated principals are not here. */
function awsPrincipalsOf(statement: Record<string, unknown>): readonly string[] {
  const principal = statement.Principal;
  if (principal === '*') return ['*'];
  if (!principal || typeof principal !== 'object') return [];
  return asList((principal as { AWS?: unknown }).AWS as unknown).filter((value): value is string => typeof value === 'string');
}

/** Condition keys in any operator, lower-cased (IAM compares condition keys case-insensitively). */
function conditionValues(statement: Record<string, unknown>, key: string): { readonly operator: string; readonly values: readonly unknown[] }[] {
  const condition = statement.Condition;
  if (!condition || typeof condition !== 'object') return [];
  return Object.entries(condition as Record<string, unknown>).flatMap(([operator, clauses]) => {
    if (!clauses || typeof clauses !== 'object') return [];
    return Object.entries(clauses as Record<string, unknown>)
      .filter(([name]) => name.toLowerCase() === key)
      .map(([, values]) => ({ operator, values: asList(values as unknown) }));
  });
}

/**
 * `aws:PrincipalOrgID` pinned to the organisation itself (a positive string operator, every value the id): only the
 * organisation's accounts can use the statement, whatever accounts or `*` it names.
 */
function scopedToOwnOrganization(statement: Record<string, unknown>, organizationId: string | undefined): boolean {
  if (organizationId === undefined) return false;
  return conditionValues(statement, 'aws:principalorgid').some(
    ({ operator, values }) =>
      /^(ForAllValues:|ForAnyValue:)?StringEquals(IgnoreCase)?$/.test(operator) && values.length > 0 && values.every((value) => value === organizationId),
  );
}

/** One AWS principal an Allow statement names, judged. */
export interface Admission {
  /** The statement's place in the list: what a rewrite drops the principal from. */
  readonly statement: number;
  readonly sid: string | undefined;
  /** The value exactly as the policy names it (dropped as such). */
  readonly value: string;
  readonly grantee: Grantee | undefined;
  readonly judgement: Judgement;
  /** The statement requires `sts:ExternalId` (a confused-deputy guard: the outside party must know a secret). */
  readonly externalId: boolean;
}

/**
 * Every AWS principal of the Allow statements `applies` keeps, judged against `view`. A statement scoped to the
 * organisation by `aws:PrincipalOrgID` admits only inside; a value naming no account is left unjudged as inside
 * (it cannot be used by anyone: IAM shows a deleted principal so).
 */
export function admissionsOf(document: PolicyDocument, view: OutsideView, applies: (statement: Record<string, unknown>) => boolean): readonly Admission[] {
  const organizationId = view.policy.organization?.id;
  return statementsOf(document).flatMap((raw, index) => {
    if (!raw || typeof raw !== 'object') return [];
    const statement = raw as Record<string, unknown>;
    if (statement.Effect !== 'Allow' || !applies(statement)) return [];
    const scoped = scopedToOwnOrganization(statement, organizationId);
    const externalId = conditionValues(statement, 'sts:externalid').length > 0;
    const sid = typeof statement.Sid === 'string' ? statement.Sid : undefined;
    return awsPrincipalsOf(statement).map((value): Admission => {
      const grantee = granteeOfPrincipal(value);
      const judgement: Judgement = scoped
        ? { outside: false, why: `${value} only within the organisation (aws:PrincipalOrgID ${organizationId})` }
        : grantee
          ? judge(grantee, view)
          : { outside: false, why: `${value} names no account (a deleted principal's unique id)` };
      return { statement: index, sid, value, grantee, judgement, externalId };
    });
  });
}

/**
 * The document without the given principals: each is removed from the statement it was read from; a statement left
 * with no principal at all is dropped. Returns the document and how many statements remain.
 */
export function withoutAdmissions(document: PolicyDocument, dropped: readonly Admission[]): { readonly document: PolicyDocument; readonly statements: number } {
  const statements = statementsOf(document).flatMap((raw, index) => {
    const drop = new Set(dropped.filter((a) => a.statement === index).map((a) => a.value));
    if (drop.size === 0 || !raw || typeof raw !== 'object') return [raw];
    const statement = raw as Record<string, unknown>;
    if (statement.Principal === '*') return [];
    const principal = { ...(statement.Principal as Record<string, unknown>) };
    const kept = asList(principal.AWS as unknown).filter((value) => typeof value !== 'string' || !drop.has(value));
    if (kept.length === 0) delete principal.AWS;
    else principal.AWS = Array.isArray(principal.AWS) ? kept : kept[0];
    return Object.keys(principal).length === 0 ? [] : [{ ...statement, Principal: principal }];
  });
  return { document: { ...document, Statement: statements }, statements: statements.length };
}

/** Two policy documents say the same (key order aside): what a read-back compares. */
export function samePolicy(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/**
 * Whether a written policy could be trailguard's own rewrite, judged from the configuration alone (the loop guard
 * reads no organisation): every Allow statement names only the account itself, the central account, trusted
 * accounts, or is scoped to the organisation, and none names everyone. A rewrite that keeps a member account is not
 * called ours: it is judged again, and found inside, which writes nothing.
 */
export function namesOnlyTrusted(document: PolicyDocument, policy: OutsidePolicy, account: string | undefined): boolean {
  const view: OutsideView = { policy, ownAccount: account, org: { kind: 'single-account' } };
  return admissionsOf(document, view, () => true).every((a) => a.judgement.outside === false);
}
