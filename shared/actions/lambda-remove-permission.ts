/**
 * Lambda.RemovePermission: removes exactly the statement a call just added to a function's policy, granting it to
 * everyone or to an outside account (public-lambda-function); undo re-creates it with AddPermission from the
 * statement kept as `previous`.
 */
import { RemovePermissionCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import * as v from 'valibot';
import { hasErrorCode } from '../aws/errors.js';
import { regionArg } from '../aws/names.js';
import { awsCommand, checked } from '../shell.js';
import { reverseStepOf, type ActionType, type Reversal, type SelfSignature } from './action.js';
import { addPermission, addPermissionParamsOf } from './lambda-add-permission.js';
import { grantOfStatement, policyStatements, statementWithSid } from './lambda-permission.js';
import { FunctionName, isFunctionName, isQualifier, isStatementId, Qualifier, StatementId } from './lambda-names.js';

const Params = v.strictObject({ FunctionName, StatementId, Qualifier: v.optional(Qualifier) });
export type RemovePermissionParams = v.InferOutput<typeof Params>;

/**
 * The statement before the remove, as the JSON text Lambda gives it (GetPolicy's, or the logged response's): what undo
 * re-creates. Kept as text, as the trust-policy actions keep a document: the record holds no policy object.
 */
export const RemovePermissionPrevious = v.strictObject({ PolicyStatement: v.pipe(v.string(), v.maxLength(20_480)) });
export type RemovePermissionPrevious = v.InferOutput<typeof RemovePermissionPrevious>;

/** A remove only narrows who may call the function: any RemovePermission by trailguard's roles is its own. */
export const removePermissionSignature: SelfSignature = {
  api: 'Lambda.RemovePermission',
  eventName: 'RemovePermission20150331v2',
  isOwnWrite: (request) => typeof request === 'object' && request !== null,
};

/** The function's statements now; a function (or qualifier) without a policy has none. */
async function statementsOrNone(lambda: LambdaClient, params: RemovePermissionParams) {
  try {
    return await policyStatements(lambda, params.FunctionName, params.Qualifier);
  } catch (error) {
    if (hasErrorCode(error, 'ResourceNotFoundException')) return [];
    throw error;
  }
}

function parsedOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const target = (p: RemovePermissionParams) => `${p.FunctionName}${p.Qualifier ? `:${p.Qualifier}` : ''}`;

export const removePermission: ActionType<RemovePermissionParams, RemovePermissionPrevious, 'lambda'> = {
  api: 'Lambda.RemovePermission',
  iam: 'lambda:RemovePermission',
  clients: ['lambda'],
  params: Params,
  previous: RemovePermissionPrevious,
  retriggers: false,
  // The exported signature itself: the loop guard holds the same object (test/shared/runner/self-calls.test.ts).
  signature: removePermissionSignature,
  async perform({ params }, { lambda }) {
    await lambda.send(new RemovePermissionCommand(params));
  },
  async verify({ params }, { lambda }) {
    const left = statementWithSid(await statementsOrNone(lambda, params), params.StatementId);
    return left
      ? { ok: false, detail: `the policy of ${target(params)} still holds statement ${params.StatementId}` }
      : { ok: true, detail: `the policy of ${target(params)} reads back without statement ${params.StatementId}` };
  },
  reverse({ params, previous, resource, region }): Reversal {
    if (!previous) return { kind: 'none', why: 'the record has no removed statement in previous.PolicyStatement: nothing known to re-create' };
    const read = grantOfStatement(parsedOrUndefined(previous.PolicyStatement));
    if ('unreadable' in read) return { kind: 'none', why: `the removed statement cannot be re-created with AddPermission: ${read.unreadable}` };
    const add = addPermissionParamsOf(params.FunctionName, params.Qualifier, read.grant);
    return { kind: 'steps', steps: [reverseStepOf(addPermission, { ...resource, region }, add)] };
  },
  command: ({ params, region }) =>
    awsCommand('lambda', 'remove-permission', {
      region: regionArg(region),
      functionName: checked(params.FunctionName, 'function name', isFunctionName),
      statementId: checked(params.StatementId, 'statement id', isStatementId),
      qualifier: params.Qualifier === undefined ? undefined : checked(params.Qualifier, 'qualifier', isQualifier),
    }),
  describe: ({ params }) => `remove statement ${params.StatementId} from the policy of Lambda function ${target(params)}`,
};
