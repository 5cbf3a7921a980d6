import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dynamoStateStore } from '../../../shared/state/dynamo-store.js';

const db = mockClient(DynamoDBClient);
const store = dynamoStateStore('trailguard-test-state', 'eu-west-1', undefined);
const NOW = Date.parse('2026-11-25T12:00:00Z');

beforeEach(() => {
  db.reset();
  db.rejects(new Error('unexpected DynamoDB call'));
});
afterEach(() => db.reset());

describe('the DynamoDB state store', () => {
  it('claims an event with a conditional update that only takes a free, given-back or expired claim', async () => {
    db.on(UpdateItemCommand).resolves({});
    const claim = await store.claimEvent('public-bucket#e-1', NOW, 90_000, 3_600_000);
    expect(claim).toEqual({ kind: 'claimed', token: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(db).toHaveReceivedCommandWith(UpdateItemCommand, {
      TableName: 'trailguard-test-state',
      Key: { pk: { S: 'event#public-bucket#e-1' } },
      ConditionExpression: 'attribute_not_exists(pk) OR #status = :retryable OR (#status = :inProgress AND lockedUntil < :now)',
      ExpressionAttributeValues: expect.objectContaining({
        ':inProgress': { S: 'in-progress' },
        ':lockedUntil': { N: String(NOW + 90_000) },
        ':expires': { N: String(NOW / 1000 + 3600) },
        ':token': { S: claim.kind === 'claimed' ? claim.token : 'none' },
      }),
      ReturnValues: 'ALL_OLD',
    });
  });

  it("reads a duplicate from the failed condition's old item", async () => {
    db.on(UpdateItemCommand).rejects(
      Object.assign(new Error('The conditional request failed'), {
        name: 'ConditionalCheckFailedException',
        Item: { status: { S: 'done' }, outcome: { S: 'remediated' }, at: { S: '2026-11-25T11:59:00.000Z' } },
      }),
    );
    expect(await store.claimEvent('public-bucket#e-1', NOW, 90_000, 3_600_000)).toEqual({
      kind: 'duplicate',
      status: 'done',
      outcome: 'remediated',
      at: '2026-11-25T11:59:00.000Z',
    });
  });

  it("takes a missing state table for trailguard's own failure (retried, then dead-lettered), never a gone resource", async () => {
    db.on(UpdateItemCommand).rejects(
      Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400 } }),
    );
    await expect(store.claimEvent('k', NOW, 1, 1)).rejects.toMatchObject({
      name: 'AwsCallError',
      kind: 'transient',
      api: 'DynamoDB.UpdateItem',
      detail: expect.stringContaining('state table trailguard-test-state does not exist'),
    });
  });

  it('classifies a throttled claim as transient, naming the API', async () => {
    db.on(UpdateItemCommand).rejects(
      Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 500 } }),
    );
    await expect(store.claimEvent('k', NOW, 1, 1)).rejects.toMatchObject({ name: 'AwsCallError', kind: 'transient', api: 'DynamoDB.UpdateItem' });
  });

  it('counts writes atomically per window and returns the new total', async () => {
    db.on(UpdateItemCommand).resolves({ Attributes: { total: { N: '51' } } });
    expect(await store.addToWindow('writes#open-security-group', NOW, 2, NOW + 1_200_000)).toBe(51);
    expect(db).toHaveReceivedCommandWith(UpdateItemCommand, {
      Key: { pk: { S: `count#writes#open-security-group#${NOW}` } },
      UpdateExpression: 'ADD #total :n SET expiresAt = :expires',
      ExpressionAttributeValues: { ':n': { N: '2' }, ':expires': { N: String((NOW + 1_200_000) / 1000) } },
    });
  });

  it('reads the breaker consistently, keeps the first trip, and resets it', async () => {
    db.on(GetItemCommand).resolves({ Item: { pk: { S: 'breaker#x' }, since: { S: 'then' }, reason: { S: 'too many' } } });
    db.on(PutItemCommand).rejects(Object.assign(new Error('exists'), { name: 'ConditionalCheckFailedException' }));
    db.on(DeleteItemCommand).resolves({});
    expect(await store.breakerState('x')).toEqual({ open: true, since: 'then', reason: 'too many' });
    await expect(store.tripBreaker('x', NOW, 'again')).resolves.toBe(false);
    await store.resetBreaker('x');
    expect(db).toHaveReceivedCommandWith(GetItemCommand, { ConsistentRead: true, Key: { pk: { S: 'breaker#x' } } });
    expect(db).toHaveReceivedCommandWith(DeleteItemCommand, { Key: { pk: { S: 'breaker#x' } } });
  });
});
