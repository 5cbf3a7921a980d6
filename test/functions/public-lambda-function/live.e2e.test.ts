import { AddPermissionCommand, CreateFunctionCommand, GetPolicyCommand, LambdaClient, PublishVersionCommand } from '@aws-sdk/client-lambda';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { ACCOUNT, ENDPOINT, REGION } from '../../e2e/helpers/emulator.js';
import { sampleEvent } from '../../e2e/helpers/events.js';
import { invokeHandler } from '../../e2e/helpers/invoke.js';
import { freshStackPerTest } from '../../e2e/helpers/stack.js';
import { reverseRecord } from '../../e2e/helpers/reverse.js';

const stack = freshStackPerTest();
const env = stack.env;
const config = {
  region: REGION,
  endpoint: ENDPOINT,
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'testing', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'testing' },
  maxAttempts: 1,
};
const lambda = new LambdaClient(config);
const iam = new IAMClient(config);
const OUTSIDE = '444455556666';
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
// An empty zip archive: moto stores the code and never runs it (no Invoke here).
const EMPTY_ZIP = Buffer.from('UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==', 'base64');

async function newFunction(): Promise<string> {
  const name = unique('e2e-fn');
  const role = await iam.send(
    new CreateRoleCommand({
      RoleName: name,
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      }),
    }),
  );
  await lambda.send(
    new CreateFunctionCommand({ FunctionName: name, Runtime: 'nodejs20.x', Role: role.Role?.Arn, Handler: 'index.handler', Code: { ZipFile: EMPTY_ZIP } }),
  );
  return name;
}

const sids = async (name: string, qualifier?: string) => {
  const answer = await lambda.send(new GetPolicyCommand({ FunctionName: name, ...(qualifier ? { Qualifier: qualifier } : {}) }));
  return (JSON.parse(answer.Policy ?? '{}').Statement as { Sid: string }[]).map((s) => s.Sid).sort();
};

const reverse = (record: RemediationRecord) => reverseRecord(record, { lambda });

const openToAll = (name: string) =>
  sampleEvent('public-lambda-function', 'would-remediate.function-opened-to-everyone', {
    requestParameters: { functionName: name, statementId: 'open-to-all', action: 'lambda:InvokeFunction', principal: '*' },
  });

describe('public-lambda-function against the emulator', () => {
  it('live: removes the statement granting everyone, keeps the scoped one, and the reversal re-creates it', async () => {
    const name = await newFunction();
    await lambda.send(
      new AddPermissionCommand({
        FunctionName: name,
        StatementId: 's3-invoke',
        Action: 'lambda:InvokeFunction',
        Principal: 's3.amazonaws.com',
        SourceArn: 'arn:aws:s3:::example-uploads',
        SourceAccount: ACCOUNT,
      }),
    );
    await lambda.send(new AddPermissionCommand({ FunctionName: name, StatementId: 'open-to-all', Action: 'lambda:InvokeFunction', Principal: '*' }));

    const { record } = await invokeHandler('public-lambda-function', openToAll(name), env('live'));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'CRITICAL',
      finding: 'lambda-public',
      actions: [
        {
          api: 'Lambda.RemovePermission',
          status: 'done',
          params: { FunctionName: name, StatementId: 'open-to-all' },
          previous: { PolicyStatement: expect.stringContaining('"Sid":"open-to-all"') },
          verification: { ok: true },
        },
      ],
      notification: { status: 'sent' },
    });
    expect(await sids(name)).toEqual(['s3-invoke']);
    expect(await stack.received()).toMatchObject([
      { attributes: { rule: 'public-lambda-function', severity: 'CRITICAL', outcome: 'remediated', account: ACCOUNT } },
    ]);

    await reverse(record);
    expect(await sids(name)).toEqual(['open-to-all', 's3-invoke']);
  });

  it('live: removes an outside account granted on a published version (the qualifier carried through)', async () => {
    const name = await newFunction();
    const version = (await lambda.send(new PublishVersionCommand({ FunctionName: name }))).Version ?? '1';
    await lambda.send(
      new AddPermissionCommand({ FunctionName: name, Qualifier: version, StatementId: 'vendor-invoke', Action: 'lambda:InvokeFunction', Principal: OUTSIDE }),
    );
    const event = sampleEvent('public-lambda-function', 'would-remediate.alias-shared-with-outside-account', {
      requestParameters: {
        functionName: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`,
        qualifier: version,
        statementId: 'vendor-invoke',
        action: 'lambda:InvokeFunction',
        principal: OUTSIDE,
      },
    });

    const { record } = await invokeHandler('public-lambda-function', event, env('live'));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'HIGH',
      actions: [{ status: 'done', params: { FunctionName: name, StatementId: 'vendor-invoke', Qualifier: version }, verification: { ok: true } }],
    });
    await reverse(record);
    expect(await sids(name, version)).toContain('vendor-invoke');
  });

  it('dry-run: plans the remove and changes nothing', async () => {
    const name = await newFunction();
    await lambda.send(new AddPermissionCommand({ FunctionName: name, StatementId: 'open-to-all', Action: 'lambda:InvokeFunction', Principal: '*' }));

    const { record } = await invokeHandler('public-lambda-function', openToAll(name), env('dry-run'));

    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ status: 'planned' }] });
    expect(await sids(name)).toEqual(['open-to-all']);
  });

  it('live: is compliant when the statement is already gone (another one left), and leaves a public function URL permission', async () => {
    const name = await newFunction();
    await lambda.send(
      new AddPermissionCommand({
        FunctionName: name,
        StatementId: 'FunctionURLAllowPublicAccess',
        Action: 'lambda:InvokeFunctionUrl',
        Principal: '*',
        FunctionUrlAuthType: 'NONE',
      }),
    );

    const { record: gone } = await invokeHandler('public-lambda-function', openToAll(name), env('live'));
    expect(gone).toMatchObject({ outcome: 'compliant', actions: [] });

    const url = sampleEvent('public-lambda-function', 'alerted.function-url-public-permission', {
      requestParameters: {
        functionName: name,
        statementId: 'FunctionURLAllowPublicAccess',
        action: 'lambda:InvokeFunctionUrl',
        principal: '*',
        functionUrlAuthType: 'NONE',
      },
    });
    const { record: alerted } = await invokeHandler('public-lambda-function', url, env('live'));
    expect(alerted).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'function-url-public', actions: [] });
    expect(await sids(name)).toEqual(['FunctionURLAllowPublicAccess']);
  });
});
