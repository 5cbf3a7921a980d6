import { GetPolicyCommand, LambdaClient, ListFunctionsCommand, RemovePermissionCommand } from '@aws-sdk/client-lambda';
import { ListAccountsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publicLambdaFunctionSweep } from '../../../functions/public-lambda-function/sweep.js';
import { SWEEPS } from '../../../functions/sweeps.js';
import { resetOrganizationsClients } from '../../../shared/aws/organizations.js';
import { runSweep, type SweepRun } from '../../../shared/runner/sweep.js';
import { capturingDeps, sampleConfig } from '../../helpers/samples.js';

const lambda = mockClient(LambdaClient);
const organizations = mockClient(OrganizationsClient);
const OWN = '111122223333';
const MEMBER = '222233334444';
const OUTSIDE = '444455556666';
const RUN: SweepRun = { region: 'eu-west-1', account: OWN, window: '2026-11-25T12:00:00.000Z', deadline: Number.POSITIVE_INFINITY };
const statement = (sid: string, principal: unknown, extra: Record<string, unknown> = {}) => ({
  Sid: sid,
  Effect: 'Allow',
  Principal: principal,
  Action: 'lambda:InvokeFunction',
  ...extra,
});
const policy = (...statements: unknown[]) => ({ Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) });
const notFound = () =>
  Object.assign(new Error('The resource you requested does not exist.'), { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } });

beforeEach(() => {
  for (const mock of [lambda, organizations]) {
    mock.reset();
    mock.rejects(new Error('unexpected AWS call'));
  }
  resetOrganizationsClients();
});
afterEach(() => {
  lambda.reset();
  organizations.reset();
});

describe('public-lambda-function sweep', () => {
  it('is one of the sweeps the CLI and the member stack know', () => {
    expect(SWEEPS.includes(publicLambdaFunctionSweep)).toBe(true);
  });

  it("reads every function's policy, pages on, and removes only the statements open to everyone or outside", async () => {
    const markers: (string | undefined)[] = [];
    lambda.on(ListFunctionsCommand).callsFake((input: { Marker?: string }) => {
      markers.push(input.Marker);
      return input.Marker === undefined
        ? { Functions: [{ FunctionName: 'no-policy' }, { FunctionName: 'open-api' }], NextMarker: 'page-2' }
        : { Functions: [{ FunctionName: 'partner-feed' }, { FunctionName: 'webhook' }] };
    });
    const open = statement('open-to-all', '*');
    const scoped = statement('s3-invoke', { Service: 's3.amazonaws.com' }, { Condition: { ArnLike: { 'AWS:SourceArn': 'arn:aws:s3:::b' } } });
    const vendor = statement('vendor', { AWS: `arn:aws:iam::${OUTSIDE}:root` });
    const trusted = statement('trusted', { AWS: 'arn:aws:iam::999988887777:root' });
    const url = statement('url', '*', { Action: 'lambda:InvokeFunctionUrl', Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'NONE' } } });
    lambda.on(GetPolicyCommand, { FunctionName: 'no-policy' }).rejects(notFound());
    lambda.on(GetPolicyCommand, { FunctionName: 'open-api' }).resolvesOnce(policy(open, scoped)).resolvesOnce(policy(open, scoped)).resolves(policy(scoped));
    lambda
      .on(GetPolicyCommand, { FunctionName: 'partner-feed' })
      .resolvesOnce(policy(vendor, trusted))
      .resolvesOnce(policy(vendor, trusted))
      .resolves(policy(trusted));
    lambda.on(GetPolicyCommand, { FunctionName: 'webhook' }).resolves(policy(url));
    lambda.on(RemovePermissionCommand).resolves({});
    const deps = capturingDeps({ mode: 'live' });

    const summary = await runSweep(publicLambdaFunctionSweep, deps, RUN);

    expect(markers).toEqual([undefined, 'page-2']);
    expect(lambda.commandCalls(RemovePermissionCommand).map((c) => c.args[0].input)).toEqual([
      { FunctionName: 'open-api', StatementId: 'open-to-all' },
      // 999988887777 is in the sample config's trustedAccounts: it stays.
      { FunctionName: 'partner-feed', StatementId: 'vendor' },
    ]);
    expect(deps.written.map((r) => [r.trigger, r.resources[0]?.id, r.outcome, r.severity])).toEqual([
      ['sweep', 'open-api', 'remediated', 'CRITICAL'],
      ['sweep', 'partner-feed', 'remediated', 'HIGH'],
    ]);
    expect(summary).toMatchObject({ scanned: 4, findings: 2, complete: true });
  });

  it("in organisation mode, leaves a grant to the organisation's accounts out of the findings", async () => {
    const config = sampleConfig({ organization: { organizationId: 'o-a1b2c3d4e5', centralAccountId: OWN } });
    organizations.on(ListAccountsCommand).resolves({ Accounts: [{ Id: OWN }, { Id: MEMBER }] });
    lambda.on(ListFunctionsCommand).resolves({ Functions: [{ FunctionName: 'shared-tool' }] });
    lambda
      .on(GetPolicyCommand)
      .resolves(
        policy(
          statement('member', { AWS: `arn:aws:iam::${MEMBER}:root` }),
          statement('org', '*', { Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } } }),
        ),
      );
    const deps = capturingDeps({ mode: 'dry-run', config });

    const summary = await runSweep(publicLambdaFunctionSweep, deps, RUN);

    expect(deps.written).toEqual([]);
    expect(summary).toMatchObject({ findings: 0, complete: true });
  });

  it('stops at a failed policy read as an incomplete sweep that names the function', async () => {
    lambda.on(ListFunctionsCommand).resolves({ Functions: [{ FunctionName: 'denied' }] });
    lambda.on(GetPolicyCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }));
    const deps = capturingDeps({ mode: 'live' });

    const summary = await runSweep(publicLambdaFunctionSweep, deps, RUN);

    expect(summary).toMatchObject({ complete: false, error: { api: 'Lambda.GetPolicy', kind: 'denied' } });
    expect(deps.written).toEqual([]);
  });
});
