import { DeletePublicAccessBlockCommand, GetPublicAccessBlockCommand, PutPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../shared/config.js';
import { stepOf, type AnyActionType, type PlannedAction, type SelfSignature } from '../../../shared/actions/action.js';
import { reversalCommands } from '../../../shared/actions/reversal.js';
import { deletePublicAccessBlock } from '../../../shared/actions/s3-delete-public-access-block.js';
import { putPublicAccessBlock, putPublicAccessBlockSignature } from '../../../shared/actions/s3-put-public-access-block.js';
import { AwsCallError } from '../../../shared/errors.js';

const s3 = mockClient(S3Client);
const clients = { s3: new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }) };
const BUCKET = { type: 'AWS::S3::Bucket', id: 'example-reports' };
const ALL = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };
const SOME = { BlockPublicAcls: true, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false };
const PUT = { Bucket: 'example-reports', PublicAccessBlockConfiguration: ALL, ExpectedBucketOwner: '111122223333' };
const noBlock = () => Object.assign(new Error('none'), { name: 'NoSuchPublicAccessBlockConfiguration' });

const stepOfPut = (action: Partial<PlannedAction>, region = 'eu-west-1') =>
  stepOf(putPublicAccessBlock as AnyActionType, { api: putPublicAccessBlock.api, resource: BUCKET, params: PUT, ...action }, region);

beforeEach(() => {
  s3.reset();
  s3.rejects(new Error('unexpected S3 call'));
});
afterEach(() => s3.reset());

describe('S3.PutPublicAccessBlock', () => {
  it.each([
    ['a bucket name no API takes', { ...PUT, Bucket: "example'; rm -rf ~" }],
    ['a flag that is a string, not a boolean', { ...PUT, PublicAccessBlockConfiguration: { ...ALL, BlockPublicAcls: 'true' } }],
    ['an owner that is no account id', { ...PUT, ExpectedBucketOwner: '1111' }],
    ['an unknown field', { ...PUT, ACL: 'public-read' }],
  ])('refuses %s before any call', (_what, params) => {
    expect(() => stepOfPut({ params })).toThrow(AwsCallError);
    expect(s3.calls()).toHaveLength(0);
  });

  it('puts the block pinned to the owner, and reads it back', async () => {
    s3.on(PutPublicAccessBlockCommand).resolves({});
    s3.on(GetPublicAccessBlockCommand).resolves({ PublicAccessBlockConfiguration: ALL });
    const step = stepOfPut({});

    await putPublicAccessBlock.perform(step as never, clients);
    expect(s3).toHaveReceivedCommandWith(PutPublicAccessBlockCommand, PUT);
    expect(await putPublicAccessBlock.verify(step as never, clients)).toEqual({ ok: true, detail: 'all four Block Public Access settings read back as true' });
    expect(s3).toHaveReceivedCommandWith(GetPublicAccessBlockCommand, { Bucket: 'example-reports', ExpectedBucketOwner: '111122223333' });
  });

  it('does not read back as done while a setting is still off, and names it', async () => {
    s3.on(GetPublicAccessBlockCommand).resolves({ PublicAccessBlockConfiguration: { ...ALL, RestrictPublicBuckets: false } });
    expect(await putPublicAccessBlock.verify(stepOfPut({}) as never, clients)).toEqual({ ok: false, detail: 'read back with RestrictPublicBuckets still off' });
  });

  it('reverses to a delete when there was no block, else to a put of the earlier one; the command is complete', () => {
    const none = putPublicAccessBlock.reverse(stepOfPut({ previous: { PublicAccessBlockConfiguration: null } }) as never);
    expect(none).toMatchObject({
      kind: 'steps',
      steps: [
        {
          type: deletePublicAccessBlock,
          action: { api: 'S3.DeletePublicAccessBlock', params: { Bucket: 'example-reports', ExpectedBucketOwner: '111122223333' } },
        },
      ],
    });
    expect(reversalCommands(none)).toEqual([
      "aws s3api delete-public-access-block --region 'eu-west-1' --bucket 'example-reports' --expected-bucket-owner '111122223333'",
    ]);
    const some = putPublicAccessBlock.reverse(stepOfPut({ previous: { PublicAccessBlockConfiguration: SOME } }) as never);
    expect(reversalCommands(some)).toEqual([
      `aws s3api put-public-access-block --region 'eu-west-1' --bucket 'example-reports' --expected-bucket-owner '111122223333' --public-access-block-configuration '${JSON.stringify(SOME)}'`,
    ]);
    expect(putPublicAccessBlock.reverse(stepOfPut({}) as never)).toMatchObject({ kind: 'none', why: expect.stringContaining('not read') });
  });

  it('gives no command for a Region that is not one', () => {
    expect(putPublicAccessBlock.command(stepOfPut({}, "eu-west-1'; id") as never)).toBe('no command: the region in the event is not a valid region');
  });

  it('knows its own write only with all four flags the boolean true', () => {
    const caller = { enforces: false, config: parseConfig({}) };
    const isOwnWrite: SelfSignature['isOwnWrite'] = putPublicAccessBlockSignature.isOwnWrite;
    expect(isOwnWrite({ PublicAccessBlockConfiguration: { ...ALL, xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' } }, caller)).toBe(true);
    expect(isOwnWrite({ PublicAccessBlockConfiguration: { ...ALL, RestrictPublicBuckets: 'true' } }, caller)).toBe(false);
    expect(isOwnWrite({ PublicAccessBlockConfiguration: SOME }, caller)).toBe(false);
    expect(isOwnWrite(null, caller)).toBe(false);
    expect(putPublicAccessBlock.signature).toBe(putPublicAccessBlockSignature);
  });
});

describe('S3.DeletePublicAccessBlock (undo)', () => {
  const step = () =>
    stepOf(
      deletePublicAccessBlock as AnyActionType,
      { api: deletePublicAccessBlock.api, resource: BUCKET, params: { Bucket: 'example-reports', ExpectedBucketOwner: '111122223333' } },
      'eu-west-1',
    );

  it('deletes the block and reads back that none is set', async () => {
    s3.on(DeletePublicAccessBlockCommand).resolves({});
    s3.on(GetPublicAccessBlockCommand).rejects(noBlock());
    await deletePublicAccessBlock.perform(step() as never, clients);
    expect(s3).toHaveReceivedCommandWith(DeletePublicAccessBlockCommand, { Bucket: 'example-reports', ExpectedBucketOwner: '111122223333' });
    expect(await deletePublicAccessBlock.verify(step() as never, clients)).toMatchObject({ ok: true });
  });

  it('does not read back as done while a block is still set', async () => {
    s3.on(GetPublicAccessBlockCommand).resolves({ PublicAccessBlockConfiguration: ALL });
    expect(await deletePublicAccessBlock.verify(step() as never, clients)).toMatchObject({ ok: false });
  });

  it('is an undo-only write: no signature (the loop guard never excuses it), and never reversed itself', () => {
    expect('signature' in deletePublicAccessBlock).toBe(false);
    expect((deletePublicAccessBlock as AnyActionType).reverse(step())).toMatchObject({ kind: 'none' });
    expect(deletePublicAccessBlock.retriggers).toBe(true);
  });
});
