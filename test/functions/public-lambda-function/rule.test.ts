import { GetPolicyCommand, LambdaClient, RemovePermissionCommand } from '@aws-sdk/client-lambda';
import { ListAccountsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publicLambdaFunction } from '../../../functions/public-lambda-function/rule.js';
import { removePermissionSignature } from '../../../shared/actions/lambda-remove-permission.js';
import { resetOrganizationsClients } from '../../../shared/aws/organizations.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const lambda = mockClient(LambdaClient);
const organizations = mockClient(OrganizationsClient);
const ACCOUNT = '111122223333';
const OUTSIDE = '444455556666';
const FN = 'orders-export';
const ORG = {
  organizationId: 'o-exampleorg1',
  centralAccountId: ACCOUNT,
  memberRoleName: 'trailguard-member',
  externalId: 'ext-0123456789abcdef',
};

const statement = (sid: string, principal: unknown, extra: Record<string, unknown> = {}) => ({
  Sid: sid,
  Effect: 'Allow',
  Principal: principal,
  Action: 'lambda:InvokeFunction',
  Resource: `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:${FN}`,
  ...extra,
});
const policy = (...statements: unknown[]) => ({ Policy: JSON.stringify({ Version: '2012-10-17', Id: 'default', Statement: statements }), RevisionId: 'r1' });
const notFound = () =>
  Object.assign(new Error('The resource you requested does not exist.'), { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } });

beforeEach(() => {
  lambda.reset();
  lambda.rejects(new Error('unexpected Lambda call'));
  organizations.reset();
  organizations.rejects(new Error('unexpected Organizations call'));
  resetOrganizationsClients();
});
afterEach(() => {
  lambda.reset();
  organizations.reset();
});

const sample = () => loadSample(publicLambdaFunction.id, 'would-remediate.function-opened-to-everyone');
const grant = (requestParameters: unknown, responseElements: unknown = null) => withDetail(sample(), { requestParameters, responseElements });
const runOffline = (event: unknown, config = sampleConfig()) => run(publicLambdaFunction, event, capturingDeps({ config }));
const runLive = (event: unknown, config = sampleConfig()) => run(publicLambdaFunction, event, capturingDeps({ config, mode: 'live' }));

describe('public-lambda-function offline', () => {
  it('plans to remove a statement granting everyone, CRITICAL (Lambda.1), the logged statement kept as previous', async () => {
    const { record } = await runSample(publicLambdaFunction, 'would-remediate.function-opened-to-everyone');
    expect(record).toMatchObject({
      outcome: 'would-remediate',
      severity: 'CRITICAL',
      finding: 'lambda-public',
      resources: [{ type: 'AWS::Lambda::Function', id: FN }],
      actions: [
        {
          api: 'Lambda.RemovePermission',
          params: { FunctionName: FN, StatementId: 'open-to-all' },
          previous: { PolicyStatement: expect.any(String) },
        },
      ],
    });
    const kept = JSON.parse(String((record.actions[0]?.previous as { PolicyStatement?: string } | undefined)?.PolicyStatement));
    expect(kept).toMatchObject({ Sid: 'open-to-all', Principal: '*', Action: 'lambda:InvokeFunction' });
  });

  it('removes an outside account granted on an alias named by ARN, HIGH, with the qualifier', async () => {
    const { record } = await runSample(publicLambdaFunction, 'would-remediate.alias-shared-with-outside-account');
    expect(record).toMatchObject({
      severity: 'HIGH',
      finding: 'lambda-outside',
      resources: [{ id: 'billing-sync', name: 'billing-sync:live' }],
      actions: [{ params: { FunctionName: 'billing-sync', StatementId: 'vendor-invoke', Qualifier: 'live' } }],
    });
  });

  it.each([
    [{ functionName: FN, statementId: 's', action: 'lambda:InvokeFunction', principal: '999988887777' }, 'in trustedAccounts'],
    [{ functionName: FN, statementId: 's', action: 'lambda:InvokeFunction', principal: ACCOUNT }, 'the account itself'],
    [{ functionName: FN, statementId: 's', action: 'lambda:InvokeFunction', principal: '*', sourceAccount: ACCOUNT }, 'SourceAccount'],
    [
      {
        functionName: FN,
        statementId: 's',
        action: 'lambda:InvokeFunction',
        principal: 'sns.amazonaws.com',
        sourceArn: `arn:aws:sns:eu-west-1:${ACCOUNT}:alerts`,
      },
      'SourceArn',
    ],
    [
      { functionName: FN, statementId: 's', action: 'lambda:InvokeFunction', principal: 's3.amazonaws.com', sourceArn: 'arn:aws:s3:::example-uploads' },
      'scoped to the source',
    ],
  ])('is compliant for a grant inside or scoped: %j', async (request, why) => {
    const record = await runOffline(grant(request));
    expect(record.outcome).toBe('compliant');
    expect(record.reason).toContain(why);
  });

  it('judges the account of the source when the condition names an outside one', async () => {
    const record = await runOffline(
      grant({
        functionName: FN,
        statementId: 's',
        action: 'lambda:InvokeFunction',
        principal: 'sns.amazonaws.com',
        sourceArn: `arn:aws:sns:eu-west-1:${OUTSIDE}:theirs`,
      }),
    );
    expect(record).toMatchObject({ outcome: 'would-remediate', severity: 'HIGH', finding: 'lambda-outside' });
    // No logged statement (responseElements null): nothing to re-create from, so no previous.
    expect(record.actions[0]?.previous).toBeUndefined();
  });

  it('alerts a public function URL permission HIGH and never plans a remove', async () => {
    const { record } = await runSample(publicLambdaFunction, 'alerted.function-url-public-permission');
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'function-url-public', actions: [] });
    expect(record.reason).toContain(
      "aws lambda remove-permission --region 'eu-west-1' --function-name 'stripe-webhook' --statement-id 'FunctionURLAllowPublicAccess'",
    );
  });

  it('alerts a function URL created with AuthType NONE, with the quoted command to require IAM', async () => {
    const { record } = await runSample(publicLambdaFunction, 'alerted.function-url-auth-none');
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'function-url-public' });
    expect(record.reason).toContain("aws lambda update-function-url-config --region 'eu-west-1' --function-name 'stripe-webhook' --auth-type 'AWS_IAM'");
  });

  it('alerts an unscoped service principal MEDIUM (the confused deputy), never removing it', async () => {
    const { record } = await runSample(publicLambdaFunction, 'alerted.service-principal-without-source');
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'MEDIUM', finding: 'service-unscoped', actions: [] });
  });

  it('judges principalOrgID against the configured organisation', async () => {
    const config = sampleConfig({ organization: ORG });
    const request = (org: string) => grant({ functionName: FN, statementId: 's', action: 'lambda:InvokeFunction', principal: '*', principalOrgID: org });
    expect((await runOffline(request('o-exampleorg1'), config)).outcome).toBe('compliant');
    expect(await runOffline(request('o-otherorg999'), config)).toMatchObject({ outcome: 'would-remediate', finding: 'lambda-outside' });
    expect(await runOffline(request('o-exampleorg1'))).toMatchObject({ outcome: 'alerted', finding: 'lambda-unjudged' });
  });

  it('alerts HIGH and leaves an account it cannot judge (organisation unread offline)', async () => {
    const record = await runOffline(
      loadSample(publicLambdaFunction.id, 'would-remediate.alias-shared-with-outside-account'),
      sampleConfig({ organization: ORG }),
    );
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'lambda-unjudged', actions: [] });
  });

  it.each([
    [{ functionName: "x'; rm -rf /", statementId: 's', action: 'lambda:InvokeFunction', principal: '*' }, 'functionName'],
    [
      { functionName: `arn:aws:lambda:eu-west-1:${OUTSIDE}:function:theirs`, statementId: 's', action: 'lambda:InvokeFunction', principal: '*' },
      'functionName',
    ],
    [{ functionName: `${FN}:live`, qualifier: 'prod', statementId: 's', action: 'lambda:InvokeFunction', principal: '*' }, 'qualifier'],
    [{ functionName: FN, statementId: 'a b', action: 'lambda:InvokeFunction', principal: '*' }, 'statementId'],
    [{ functionName: FN, statementId: 's', action: 'lambda:InvokeFunction', principal: 'a b' }, 'principal'],
    [{ functionName: FN, statementId: 's', action: 'lambda:InvokeFunction' }, 'principal'],
  ])('refuses an unexpected shape %j as a parse error naming %s', async (request, field) => {
    const record = await runOffline(grant(request));
    expect(record).toMatchObject({ outcome: 'failed', error: { kind: 'parse' }, actions: [] });
    expect(JSON.stringify(record)).toContain(field);
  });

  it('keeps control characters of a principal out of the reason', async () => {
    const record = await runOffline(grant({ functionName: FN, statementId: 's', action: 'lambda:InvokeFunction', principal: 'evil\u001b[2Jx' }));
    expect(record.outcome).toBe('alerted');
    expect(record.reason).not.toContain('\u001b');
  });

  it("ignores trailguard's own remove (the loop guard) and never calls its add its own", () => {
    const caller = { enforces: false, config: sampleConfig() };
    expect(removePermissionSignature.isOwnWrite({ functionName: FN, statementId: 'open-to-all' }, caller)).toBe(true);
    expect(removePermissionSignature.eventName).toBe('RemovePermission20150331v2');
  });

  it('ends a failed AddPermission ignored, with its code', async () => {
    const { record } = await runSample(publicLambdaFunction, 'ignored.add-permission-conflict');
    expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('ResourceConflictException') });
  });
});

describe('public-lambda-function live: decided from the policy now', () => {
  it('removes exactly the statement still granting everyone, reads back, keeps the statement read as previous', async () => {
    const open = statement('open-to-all', '*');
    const kept = statement('s3-invoke', { Service: 's3.amazonaws.com' }, { Condition: { ArnLike: { 'AWS:SourceArn': 'arn:aws:s3:::b' } } });
    lambda.on(GetPolicyCommand).resolvesOnce(policy(open, kept)).resolves(policy(kept));
    lambda.on(RemovePermissionCommand).resolves({});
    const record = await runLive(sample());
    expect(record).toMatchObject({
      outcome: 'remediated',
      actions: [{ status: 'done', previous: { PolicyStatement: JSON.stringify(open) }, verification: { ok: true } }],
    });
    expect(lambda.commandCalls(RemovePermissionCommand).map((c) => c.args[0].input)).toEqual([{ FunctionName: FN, StatementId: 'open-to-all' }]);
  });

  it('is compliant when the statement is gone, and when its Sid now grants something else', async () => {
    lambda.on(GetPolicyCommand).resolves(policy(statement('other', '*')));
    expect((await runLive(sample())).outcome).toBe('compliant');
    lambda.on(GetPolicyCommand).resolves(policy(statement('open-to-all', { AWS: `arn:aws:iam::${ACCOUNT}:root` })));
    const replaced = await runLive(sample());
    expect(replaced).toMatchObject({ outcome: 'compliant', reason: expect.stringContaining('replaced since') });
    expect(lambda.commandCalls(RemovePermissionCommand)).toHaveLength(0);
  });

  it('reads the account form AWS writes ({"AWS": "arn:…:root"}) as the account the request named', async () => {
    const event = loadSample(publicLambdaFunction.id, 'would-remediate.alias-shared-with-outside-account');
    const held = statement('vendor-invoke', { AWS: `arn:aws:iam::${OUTSIDE}:root` });
    lambda.on(GetPolicyCommand).resolvesOnce(policy(held)).rejects(notFound());
    lambda.on(RemovePermissionCommand).resolves({});
    const record = await runLive(event);
    expect(record).toMatchObject({ outcome: 'remediated', actions: [{ verification: { ok: true } }] });
    expect(lambda.commandCalls(GetPolicyCommand)[0]?.args[0].input).toEqual({ FunctionName: 'billing-sync', Qualifier: 'live' });
    expect(lambda.commandCalls(RemovePermissionCommand)[0]?.args[0].input).toEqual({
      FunctionName: 'billing-sync',
      StatementId: 'vendor-invoke',
      Qualifier: 'live',
    });
  });

  it('reads the organisation in organisation mode and leaves a member account granted', async () => {
    const event = loadSample(publicLambdaFunction.id, 'would-remediate.alias-shared-with-outside-account');
    lambda.on(GetPolicyCommand).resolves(policy(statement('vendor-invoke', { AWS: `arn:aws:iam::${OUTSIDE}:root` })));
    organizations.on(ListAccountsCommand).resolves({ Accounts: [{ Id: OUTSIDE }, { Id: ACCOUNT }] });
    const record = await runLive(event, sampleConfig({ organization: ORG }));
    expect(record).toMatchObject({ outcome: 'compliant', reason: expect.stringContaining('an account of the organisation') });
  });
});
