/**
 * What the Lambda permission actions share: the names Lambda takes, a function policy read with GetPolicy, and one
 * statement of it as the AddPermission call that makes it (how undo re-creates a removed statement).
 */
import { GetPolicyCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import * as v from 'valibot';
import { isAccountId } from '../aws/names.js';
import { isStatementId } from './lambda-names.js';

/** One permission as AddPermission takes it: what the event asked for, or what a policy statement grants. */
export interface Grant {
  readonly statementId: string;
  readonly action: string;
  /** `*`, a 12-digit account id, an IAM ARN (user or role), or a service principal (`s3.amazonaws.com`). */
  readonly principal: string;
  readonly sourceArn?: string;
  readonly sourceAccount?: string;
  readonly principalOrgId?: string;
  readonly functionUrlAuthType?: string;
  readonly eventSourceToken?: string;
  readonly invokedViaFunctionUrl?: boolean;
}

// `arn:aws:iam::<account>:root` is how Lambda writes an account given as a bare id.
const ACCOUNT_ROOT = /^arn:aws[a-z-]*:iam::(\d{12}):root$/;

/** A principal as one string, an account's root ARN as its id: the request's and the policy's forms compare equal. */
export function principalOf(raw: string): string {
  return ACCOUNT_ROOT.exec(raw)?.[1] ?? raw;
}

const one = (value: unknown): unknown => (Array.isArray(value) && value.length === 1 ? value[0] : value);

/** A statement's principal: `"*"`, `{"AWS": …}` or `{"Service": …}`; moto writes an account as a bare string. */
function statementPrincipal(principal: unknown): string | undefined {
  if (typeof principal === 'string') return principalOf(principal);
  if (typeof principal !== 'object' || principal === null) return undefined;
  const entries = Object.entries(principal);
  if (entries.length !== 1) return undefined;
  const [key, value] = entries[0] as [string, unknown];
  const single = one(value);
  if (typeof single !== 'string' || (key !== 'AWS' && key !== 'Service')) return undefined;
  return principalOf(single);
}

/** The condition keys AddPermission writes, by operator and key (IAM compares key names case-insensitively). */
const CONDITION_KEYS: Readonly<Record<string, { readonly operators: readonly string[]; readonly field: keyof Grant }>> = {
  'aws:sourcearn': { operators: ['arnlike', 'arnequals'], field: 'sourceArn' },
  'aws:sourceaccount': { operators: ['stringequals'], field: 'sourceAccount' },
  'aws:principalorgid': { operators: ['stringequals'], field: 'principalOrgId' },
  'lambda:functionurlauthtype': { operators: ['stringequals'], field: 'functionUrlAuthType' },
  'lambda:eventsourcetoken': { operators: ['stringequals'], field: 'eventSourceToken' },
  'lambda:invokedviafunctionurl': { operators: ['bool'], field: 'invokedViaFunctionUrl' },
};

/** A policy statement as the grant AddPermission would make of it, or why it is not one AddPermission can make. */
export function grantOfStatement(statement: unknown): { readonly grant: Grant } | { readonly unreadable: string } {
  if (typeof statement !== 'object' || statement === null) return { unreadable: 'the statement is not an object' };
  const s = statement as Record<string, unknown>;
  const sid = s.Sid;
  const action = one(s.Action);
  const principal = statementPrincipal(s.Principal);
  if (typeof sid !== 'string' || !isStatementId(sid)) return { unreadable: 'the statement has no readable Sid' };
  if (s.Effect !== 'Allow') return { unreadable: `statement ${sid} is not an Allow` };
  if (typeof action !== 'string') return { unreadable: `statement ${sid} has no single action` };
  if (principal === undefined) return { unreadable: `statement ${sid} has no single principal` };
  const fields: Record<string, string | boolean> = {};
  // moto writes the function URL's auth type beside the statement's fields, not as a condition.
  if (typeof s.FunctionUrlAuthType === 'string') fields.functionUrlAuthType = s.FunctionUrlAuthType;
  const condition = s.Condition ?? {};
  if (typeof condition !== 'object' || condition === null) return { unreadable: `statement ${sid} has an unreadable Condition` };
  for (const [operator, keys] of Object.entries(condition)) {
    if (typeof keys !== 'object' || keys === null) return { unreadable: `statement ${sid} has an unreadable Condition` };
    for (const [key, raw] of Object.entries(keys)) {
      const known = CONDITION_KEYS[key.toLowerCase()];
      const value = one(raw);
      if (known === undefined || !known.operators.includes(operator.toLowerCase()) || (typeof value !== 'string' && typeof value !== 'boolean'))
        return { unreadable: `statement ${sid} has a condition AddPermission does not write (${operator} ${key})` };
      fields[known.field] = known.field === 'invokedViaFunctionUrl' ? String(value).toLowerCase() === 'true' : String(value);
    }
  }
  return { grant: { statementId: sid, action, principal, ...fields } };
}

/** The same grant: one principal, action and scope (the policy's casing of `lambda:` actions is kept as asked). */
export function sameGrant(a: Grant, b: Grant): boolean {
  return (
    a.statementId === b.statementId
    && a.action.toLowerCase() === b.action.toLowerCase()
    && a.principal === b.principal
    && a.sourceArn === b.sourceArn
    && a.sourceAccount === b.sourceAccount
    && a.principalOrgId === b.principalOrgId
    && a.functionUrlAuthType?.toUpperCase() === b.functionUrlAuthType?.toUpperCase()
    && a.eventSourceToken === b.eventSourceToken
    && (a.invokedViaFunctionUrl ?? false) === (b.invokedViaFunctionUrl ?? false)
  );
}

const Policy = v.looseObject({ Statement: v.optional(v.union([v.array(v.unknown()), v.unknown()])) });

/** The statements of a function's policy now. A function without a policy answers ResourceNotFoundException (thrown). */
export async function policyStatements(lambda: LambdaClient, functionName: string, qualifier: string | undefined): Promise<readonly Record<string, unknown>[]> {
  const answer = await lambda.send(new GetPolicyCommand({ FunctionName: functionName, ...(qualifier ? { Qualifier: qualifier } : {}) }));
  if (!answer.Policy) return [];
  const parsed = v.safeParse(Policy, JSON.parse(answer.Policy));
  if (!parsed.success) return [];
  return [parsed.output.Statement ?? []].flat().filter((s): s is Record<string, unknown> => typeof s === 'object' && s !== null);
}

/** The statement with this Sid, if any. */
export const statementWithSid = (statements: readonly Record<string, unknown>[], sid: string): Record<string, unknown> | undefined =>
  statements.find((s) => s.Sid === sid);

/** True for an account id principal (after `principalOf`). */
export const isAccountPrincipal = (principal: string): boolean => isAccountId(principal);
