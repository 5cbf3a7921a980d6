/**
 * The names Lambda takes (function, qualifier, statement id) and a function reference as a call logs it. No SDK
 * import: a notify-only bundle (lambda-backdoor) reads names without carrying the Lambda client's commands.
 */
import * as v from 'valibot';

/** A function's name alone (the API takes an ARN too; trailguard's own calls always name it plainly). */
const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** A version number or alias name; `$LATEST` holds no policy of its own. */
const QUALIFIER = /^[A-Za-z0-9_-]{1,128}$/;
const STATEMENT_ID = /^[A-Za-z0-9_.-]{1,100}$/;
export const isFunctionName = (value: string): boolean => FUNCTION_NAME.test(value);
export const isQualifier = (value: string): boolean => QUALIFIER.test(value);
export const isStatementId = (value: string): boolean => STATEMENT_ID.test(value);

// A function as the API names it: name, partial ARN (`<account>:function:<name>`) or ARN, each with an optional
// `:<version or alias>` (the API reference's FunctionName pattern).
const FUNCTION_REF =
  /^(?:arn:aws[a-zA-Z-]*:lambda:[a-z]{2}(?:-gov)?-[a-z]+-\d:)?(?:(\d{12}):)?(?:function:)?([A-Za-z0-9_-]{1,64})(?::([A-Za-z0-9_$-]{1,128}))?$/;

/** A function reference as a call names it (name, partial ARN or ARN): its account when given, name and qualifier. */
export function functionRefOf(raw: string): { readonly account?: string; readonly name: string; readonly qualifier?: string } | undefined {
  const match = FUNCTION_REF.exec(raw);
  if (!match) return undefined;
  const [, account, name, qualifier] = match;
  return { name: name as string, ...(account !== undefined ? { account } : {}), ...(qualifier !== undefined ? { qualifier } : {}) };
}

export const FunctionName = v.pipe(v.string(), v.regex(FUNCTION_NAME, 'a Lambda function name (letters, digits, - and _, at most 64)'));
export const Qualifier = v.pipe(v.string(), v.regex(QUALIFIER, 'a version number or alias name'));
export const StatementId = v.pipe(v.string(), v.regex(STATEMENT_ID, 'a statement id (letters, digits, - _ ., at most 100)'));
