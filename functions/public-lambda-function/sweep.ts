import { paginateListFunctions, type LambdaClient } from '@aws-sdk/client-lambda';
import { grantOfStatement, policyStatements, type Grant } from '../../shared/actions/lambda-permission.js';
import { isFunctionName } from '../../shared/actions/lambda-names.js';
import { awsCall, hasErrorCode } from '../../shared/aws/errors.js';
import { lambdaClient } from '../../shared/aws/lambda.js';
import { organizationAccounts } from '../../shared/aws/organizations.js';
import type { OrgAccounts, OutsidePolicy } from '../../shared/outside.js';
import { classifiedPages, type Sweep, type SweepScope, type SweepStep } from '../../shared/runner/sweep.js';
import { exposureOf, judgedExposure, publicLambdaFunction, type LambdaAccessFacts } from './rule.js';

// ListFunctions returns at most 50 per page.
const PAGE_SIZE = 50;

type Clients = { readonly lambda: LambdaClient; readonly orgAccounts: () => Promise<OrgAccounts> };

/** The facts of a statement in a function's policy now, as if one AddPermission call had just added it. */
export function statementFacts(functionName: string, grant: Grant, statement: Record<string, unknown>): LambdaAccessFacts {
  return { kind: 'permission', resources: [{ type: 'AWS::Lambda::Function', id: functionName }], functionName, qualifier: undefined, grant, statement };
}

/**
 * Candidates: this Region's functions whose (unqualified) policy holds a statement the rule would remove: public, an
 * outside account or organisation, or one it cannot judge (alerted). A public function URL's permission, a scoped or
 * inside grant, and a service principal without a source condition are no finding here: the first two are no
 * exposure, and the URL and the unscoped service are alerted by the event that made them, not every hour. ListFunctions
 * has no filter for a policy: each function's policy is read (one GetPolicy each; none answers not found).
 * Versions' and aliases' own policies are not read.
 */
async function* scan(
  { lambda, orgAccounts }: Clients,
  settings: { readonly outside: OutsidePolicy },
  scope: SweepScope,
): AsyncGenerator<SweepStep<LambdaAccessFacts>> {
  const org: OrgAccounts = settings.outside.organization ? await orgAccounts() : { kind: 'single-account' };
  const view = { policy: settings.outside, ownAccount: scope.account, org };
  for await (const page of classifiedPages('Lambda.ListFunctions', scope.region, functionPages(lambda))) {
    yield { kind: 'page', scanned: page.ids.length, next: page.marker ? `Lambda.ListFunctions marker ${page.marker}` : 'done' };
    for (const name of page.ids) {
      if (name === undefined || !isFunctionName(name)) continue;
      const statements = await awsCall('Lambda.GetPolicy', name, async () => {
        try {
          return await policyStatements(lambda, name, undefined);
        } catch (error) {
          if (hasErrorCode(error, 'ResourceNotFoundException')) return [];
          throw error;
        }
      });
      for (const statement of statements) {
        const read = grantOfStatement(statement);
        if ('unreadable' in read) continue;
        const exposure = exposureOf(read.grant);
        const verdict = judgedExposure(exposure, settings.outside, view);
        if (verdict === 'outside' || verdict === 'unknown')
          yield { kind: 'finding', resource: `${name}#${read.grant.statementId}`, facts: statementFacts(name, read.grant, statement) };
      }
    }
  }
}

/** The Region's functions, a page of names at a time. */
async function* functionPages(lambda: LambdaClient): AsyncGenerator<{ readonly ids: readonly (string | undefined)[]; readonly marker?: string }> {
  for await (const page of paginateListFunctions({ client: lambda, pageSize: PAGE_SIZE }, { MaxItems: PAGE_SIZE }))
    yield { ids: (page.Functions ?? []).map((f) => f.FunctionName), marker: page.NextMarker };
}

/** The public-lambda-function sweep: this Region's functions whose policy lets everyone or an outside account in. */
export const publicLambdaFunctionSweep = {
  rule: publicLambdaFunction,
  permissions: { 'Lambda.ListFunctions': 'lambda:ListFunctions' },
  clients: (options) => ({
    lambda: lambdaClient({ ...options, readOnly: true }),
    orgAccounts: organizationAccounts({ region: options.region, endpoint: options.endpoint, readOnly: true }),
  }),
  scan,
} satisfies Sweep<typeof publicLambdaFunction, LambdaAccessFacts, Clients>;
