import { AddPermissionCommand, GetPolicyCommand, LambdaClient, RemovePermissionCommand } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stepOf, stepOfReverse } from '../../../shared/actions/action.js';
import { addPermission } from '../../../shared/actions/lambda-add-permission.js';
import { grantOfStatement } from '../../../shared/actions/lambda-permission.js';
import { removePermission } from '../../../shared/actions/lambda-remove-permission.js';
import { AwsCallError } from '../../../shared/errors.js';

const lambda = mockClient(LambdaClient);
beforeEach(() => {
  lambda.reset();
  lambda.rejects(new Error('unexpected Lambda call'));
});
afterEach(() => lambda.reset());

const FN = 'orders-export';
const resource = { type: 'AWS::Lambda::Function', id: FN };
const clients = () => ({ lambda: new LambdaClient({ region: 'eu-west-1' }) });
const policy = (...statements: unknown[]) => ({ Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) });
const removeStep = (params: unknown, previous?: unknown) =>
  stepOf(removePermission, { api: removePermission.api, resource, params, ...(previous ? { previous } : {}) }, 'eu-west-1');

/** The statement AWS writes for `add-permission --principal s3.amazonaws.com --source-arn … --source-account …`. */
const S3_STATEMENT = {
  Sid: 's3-invoke',
  Effect: 'Allow',
  Principal: { Service: 's3.amazonaws.com' },
  Action: 'lambda:InvokeFunction',
  Resource: `arn:aws:lambda:eu-west-1:111122223333:function:${FN}`,
  Condition: { StringEquals: { 'AWS:SourceAccount': '111122223333' }, ArnLike: { 'AWS:SourceArn': 'arn:aws:s3:::example-uploads' } },
};

describe('Lambda.RemovePermission', () => {
  it('refuses params that are not a plain function name, statement id and qualifier', () => {
    expect(() => removeStep({ FunctionName: `arn:aws:lambda:eu-west-1:111122223333:function:${FN}`, StatementId: 's' })).toThrow(AwsCallError);
    expect(() => removeStep({ FunctionName: FN, StatementId: 'a b' })).toThrow(AwsCallError);
    expect(() => removeStep({ FunctionName: FN, StatementId: 's', Qualifier: '$LATEST' })).toThrow(AwsCallError);
    expect(() => removeStep({ FunctionName: FN, StatementId: 's', RevisionId: 'x' })).toThrow(AwsCallError);
  });

  it('performs the remove, and reads back the statement gone (a function left with no policy answers not found)', async () => {
    lambda.on(RemovePermissionCommand).resolves({});
    lambda.on(GetPolicyCommand).rejects(Object.assign(new Error('No policy is associated with the given resource.'), { name: 'ResourceNotFoundException' }));
    const step = removeStep({ FunctionName: FN, StatementId: 'open-to-all', Qualifier: 'live' });
    await removePermission.perform(step as never, clients());
    expect(lambda.commandCalls(RemovePermissionCommand)[0]?.args[0].input).toEqual({ FunctionName: FN, StatementId: 'open-to-all', Qualifier: 'live' });
    expect(await removePermission.verify(step as never, clients())).toMatchObject({ ok: true });
  });

  it('reads back not ok while the statement is still there; other failures are thrown', async () => {
    lambda
      .on(GetPolicyCommand)
      .resolvesOnce(policy({ ...S3_STATEMENT, Sid: 'open-to-all' }))
      .rejectsOnce(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const step = removeStep({ FunctionName: FN, StatementId: 'open-to-all' });
    expect(await removePermission.verify(step as never, clients())).toMatchObject({ ok: false });
    await expect(removePermission.verify(step as never, clients())).rejects.toThrow('denied');
  });

  it('reverses with AddPermission of exactly the kept statement, conditions and qualifier included', () => {
    const reversal = removePermission.reverse(
      removeStep({ FunctionName: FN, StatementId: 's3-invoke', Qualifier: 'live' }, { PolicyStatement: JSON.stringify(S3_STATEMENT) }) as never,
    );
    expect(reversal.kind).toBe('steps');
    if (reversal.kind !== 'steps') return;
    const [step] = reversal.steps;
    expect(step?.type).toBe(addPermission);
    expect(stepOfReverse(step as never).params).toEqual({
      FunctionName: FN,
      StatementId: 's3-invoke',
      Qualifier: 'live',
      Action: 'lambda:InvokeFunction',
      Principal: 's3.amazonaws.com',
      SourceArn: 'arn:aws:s3:::example-uploads',
      SourceAccount: '111122223333',
    });
  });

  it('re-creates an account grant from the ARN AWS writes, and a public URL grant from its condition', () => {
    expect(grantOfStatement({ ...S3_STATEMENT, Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Condition: undefined })).toMatchObject({
      grant: { principal: '444455556666' },
    });
    expect(
      grantOfStatement({
        Sid: 'url',
        Effect: 'Allow',
        Principal: '*',
        Action: 'lambda:InvokeFunctionUrl',
        Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'NONE' } },
      }),
    ).toEqual({ grant: { statementId: 'url', action: 'lambda:InvokeFunctionUrl', principal: '*', functionUrlAuthType: 'NONE' } });
  });

  it('gives no reversal for a statement AddPermission cannot write, or none kept', () => {
    const odd = { ...S3_STATEMENT, Condition: { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } } };
    expect(
      removePermission.reverse(removeStep({ FunctionName: FN, StatementId: 's3-invoke' }, { PolicyStatement: JSON.stringify(odd) }) as never),
    ).toMatchObject({
      kind: 'none',
      why: expect.stringContaining('IpAddress'),
    });
    expect(removePermission.reverse(removeStep({ FunctionName: FN, StatementId: 's3-invoke' }) as never)).toMatchObject({ kind: 'none' });
  });

  it('gives the command with every value quoted', () => {
    const command = removePermission.command(removeStep({ FunctionName: FN, StatementId: 'open-to-all', Qualifier: '3' }) as never);
    expect(command).toBe("aws lambda remove-permission --region 'eu-west-1' --function-name 'orders-export' --statement-id 'open-to-all' --qualifier '3'");
  });
});

describe('Lambda.AddPermission (undo only)', () => {
  it('adds, reads back the statement, quotes its command, and is never reversed', async () => {
    lambda.on(AddPermissionCommand).resolves({});
    lambda.on(GetPolicyCommand).resolves(policy(S3_STATEMENT));
    const params = {
      FunctionName: FN,
      StatementId: 's3-invoke',
      Action: 'lambda:InvokeFunction',
      Principal: 's3.amazonaws.com',
      SourceArn: "arn:aws:s3:::it's",
    };
    const step = stepOf(addPermission, { api: addPermission.api, resource, params }, 'eu-west-1');
    await addPermission.perform(step as never, clients());
    expect(await addPermission.verify(step as never, clients())).toMatchObject({ ok: true });
    expect(addPermission.command(step as never)).toContain(`--source-arn 'arn:aws:s3:::it'\\''s'`);
    expect(addPermission.reverse(step as never)).toMatchObject({ kind: 'none' });
    expect(addPermission.signature).toBeUndefined();
  });
});
