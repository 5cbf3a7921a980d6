/**
 * Lambda.AddPermission: undo's write only, re-creating a statement public-lambda-function removed, exactly as it was
 * (principal, action and the conditions AddPermission writes). trailguard's functions never add a permission.
 */
import { AddPermissionCommand, type AddPermissionRequest } from '@aws-sdk/client-lambda';
import * as v from 'valibot';
import { regionArg } from '../aws/names.js';
import { awsCommand, checked } from '../shell.js';
import type { ActionType, Reversal } from './action.js';
import { policyStatements, statementWithSid, type Grant } from './lambda-permission.js';
import { FunctionName, isFunctionName, isQualifier, isStatementId, Qualifier, StatementId } from './lambda-names.js';

const Text = v.pipe(v.string(), v.minLength(1), v.maxLength(1024), v.regex(/^\S+$/, 'no whitespace'));
const Params = v.strictObject({
  FunctionName,
  StatementId,
  Qualifier: v.optional(Qualifier),
  Action: v.pipe(v.string(), v.regex(/^(lambda:[*]|lambda:[A-Za-z]+|[*])$/, 'a lambda: action')),
  Principal: Text,
  SourceArn: v.optional(Text),
  SourceAccount: v.optional(v.pipe(v.string(), v.regex(/^\d{12}$/, 'a 12-digit account id'))),
  PrincipalOrgID: v.optional(v.pipe(v.string(), v.regex(/^o-[a-z0-9]{10,32}$/, 'an organization id'))),
  FunctionUrlAuthType: v.optional(v.picklist(['NONE', 'AWS_IAM'])),
  EventSourceToken: v.optional(Text),
  InvokedViaFunctionUrl: v.optional(v.boolean()),
});
export type AddPermissionParams = v.InferOutput<typeof Params>;
/** Undo's add replaces nothing. A const, so that the action object stays pure: a bundle that only needs the loop guard's signatures drops it. */
const NoPrevious = v.strictObject({});

/** The AddPermission call that makes `grant` on a function (or its version or alias). */
export function addPermissionParamsOf(functionName: string, qualifier: string | undefined, grant: Grant): AddPermissionParams {
  return {
    FunctionName: functionName,
    StatementId: grant.statementId,
    ...(qualifier ? { Qualifier: qualifier } : {}),
    Action: grant.action,
    Principal: grant.principal,
    ...(grant.sourceArn !== undefined ? { SourceArn: grant.sourceArn } : {}),
    ...(grant.sourceAccount !== undefined ? { SourceAccount: grant.sourceAccount } : {}),
    ...(grant.principalOrgId !== undefined ? { PrincipalOrgID: grant.principalOrgId } : {}),
    ...(grant.functionUrlAuthType !== undefined ? { FunctionUrlAuthType: grant.functionUrlAuthType.toUpperCase() as 'NONE' | 'AWS_IAM' } : {}),
    ...(grant.eventSourceToken !== undefined ? { EventSourceToken: grant.eventSourceToken } : {}),
    ...(grant.invokedViaFunctionUrl !== undefined ? { InvokedViaFunctionUrl: grant.invokedViaFunctionUrl } : {}),
  };
}

const target = (p: AddPermissionParams) => `${p.FunctionName}${p.Qualifier ? `:${p.Qualifier}` : ''}`;
const text = (value: string | undefined, what: string) => (value === undefined ? undefined : checked(value, what, (x) => /^\S{1,1024}$/.test(x)));

export const addPermission: ActionType<AddPermissionParams, Record<string, never>, 'lambda'> = {
  api: 'Lambda.AddPermission',
  iam: 'lambda:AddPermission',
  clients: ['lambda'],
  params: Params,
  previous: NoPrevious,
  // Undo's add is a grant public-lambda-function acts on: it would be removed again unless exempted.
  retriggers: true,
  async perform({ params }, { lambda }) {
    await lambda.send(new AddPermissionCommand(params as AddPermissionRequest));
  },
  async verify({ params }, { lambda }) {
    const held = statementWithSid(await policyStatements(lambda, params.FunctionName, params.Qualifier), params.StatementId);
    return held
      ? { ok: true, detail: `the policy of ${target(params)} reads back with statement ${params.StatementId}` }
      : { ok: false, detail: `the policy of ${target(params)} lacks statement ${params.StatementId}` };
  },
  reverse(): Reversal {
    return { kind: 'none', why: "an operator's undo: to remediate again, remove its exemption and replay the event with --mode live" };
  },
  command: ({ params, region }) =>
    awsCommand('lambda', 'add-permission', {
      region: regionArg(region),
      functionName: checked(params.FunctionName, 'function name', isFunctionName),
      statementId: checked(params.StatementId, 'statement id', isStatementId),
      qualifier: params.Qualifier === undefined ? undefined : checked(params.Qualifier, 'qualifier', isQualifier),
      action: text(params.Action, 'action'),
      principal: text(params.Principal, 'principal'),
      sourceArn: text(params.SourceArn, 'source ARN'),
      sourceAccount: text(params.SourceAccount, 'source account'),
      principalOrgId: text(params.PrincipalOrgID, 'organization id'),
      functionUrlAuthType: text(params.FunctionUrlAuthType, 'auth type'),
      eventSourceToken: text(params.EventSourceToken, 'event source token'),
      invokedViaFunctionUrl: params.InvokedViaFunctionUrl,
    }),
  describe: ({ params }) =>
    `re-create statement ${params.StatementId} (${params.Action} for ${params.Principal}) in the policy of Lambda function ${target(params)}`,
};
