import { DeleteItemCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dynamoStateStore } from '../../../shared/state/dynamo-store.js';
import { memoryStateStore, type Intent } from '../../../shared/state/store.js';

const db = mockClient(DynamoDBClient);
const store = dynamoStateStore('trailguard-test-state', 'eu-west-1', undefined);
const NOW = Date.parse('2026-11-25T12:00:00Z');
const TRAIL = { type: 'AWS::CloudTrail::Trail', id: 'arn:aws:cloudtrail:us-east-1:111122223333:trail/example-audit-trail' };
const INTENT: Intent = {
  id: 'intent-1',
  actions: [{ api: 'CloudTrail.StartLogging', resource: TRAIL, params: { Name: TRAIL.id }, previous: { IsLogging: false } }],
  reason: 'trail example-audit-trail was stopped',
  severity: 'CRITICAL',
  resources: [TRAIL],
  at: '2026-11-25T11:59:00.000Z',
};
const conditionFailed = () => Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });

beforeEach(() => {
  db.reset();
  db.rejects(new Error('unexpected DynamoDB call'));
});
afterEach(() => db.reset());

describe('the DynamoDB store: intents in claims', () => {
  it('records the intent only into the claim this token holds', async () => {
    db.on(UpdateItemCommand).resolvesOnce({}).rejectsOnce(conditionFailed());
    expect(await store.recordIntent('trail-logging#e-1', 'token-1', INTENT)).toBe(true);
    expect(await store.recordIntent('trail-logging#e-1', 'token-1', INTENT)).toBe(false); // taken over meanwhile
    expect(db).toHaveReceivedCommandWith(UpdateItemCommand, {
      Key: { pk: { S: 'event#trail-logging#e-1' } },
      UpdateExpression: 'SET #intent = :intent',
      ConditionExpression: '#status = :inProgress AND claimToken = :token',
      ExpressionAttributeValues: { ':intent': { S: JSON.stringify(INTENT) }, ':inProgress': { S: 'in-progress' }, ':token': { S: 'token-1' } },
    });
  });

  it('gives a claim back as retryable, keeping its intent, and never frees a claim another invocation took', async () => {
    db.on(UpdateItemCommand).resolvesOnce({}).rejectsOnce(conditionFailed());
    await store.releaseEvent('trail-logging#e-1', 'token-1', true);
    await expect(store.releaseEvent('trail-logging#e-1', 'token-1', true)).resolves.toBeUndefined();
    expect(db).toHaveReceivedCommandWith(UpdateItemCommand, {
      Key: { pk: { S: 'event#trail-logging#e-1' } },
      UpdateExpression: 'SET #status = :retryable REMOVE lockedUntil, claimToken', // not the intent
      ConditionExpression: 'claimToken = :token',
    });
    expect(db).not.toHaveReceivedCommand(DeleteItemCommand);
  });

  it("hands the retry the intent the given-back claim kept, read from the claim update's old item", async () => {
    db.on(UpdateItemCommand).resolves({
      Attributes: { pk: { S: 'event#trail-logging#e-1' }, status: { S: 'retryable' }, intent: { S: JSON.stringify(INTENT) } },
    });
    expect(await store.claimEvent('trail-logging#e-1', NOW, 90_000, 3_600_000)).toEqual({ kind: 'claimed', token: expect.any(String), intent: INTENT });
  });

  it('rethrows a throttled intent write classified (the try fails transiently, before any write)', async () => {
    db.on(UpdateItemCommand).rejects(Object.assign(new Error('slow'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
    await expect(store.recordIntent('k', 't', INTENT)).rejects.toMatchObject({ name: 'AwsCallError', kind: 'transient', api: 'DynamoDB.UpdateItem' });
  });
});

describe('the DynamoDB store: resource locks', () => {
  it('takes a lock with a conditional put that only takes a free or lapsed lock, and says until when another holds it', async () => {
    const holder = { pk: { S: 'lock#trail-logging#example-audit-trail' }, owner: { S: 'owner-1' }, lockedUntil: { N: String(NOW + 60_000) } };
    db.on(PutItemCommand)
      .resolvesOnce({})
      .rejectsOnce(Object.assign(conditionFailed(), { Item: holder }));
    expect(await store.lockResource('trail-logging#example-audit-trail', 'owner-1', NOW, 60_000)).toEqual({ kind: 'taken' });
    expect(await store.lockResource('trail-logging#example-audit-trail', 'owner-2', NOW, 90_000)).toEqual({ kind: 'held', until: NOW + 60_000 });
    expect(db).toHaveReceivedCommandWith(PutItemCommand, {
      Item: expect.objectContaining({ pk: { S: 'lock#trail-logging#example-audit-trail' }, owner: { S: 'owner-1' }, lockedUntil: { N: String(NOW + 60_000) } }),
      ConditionExpression: 'attribute_not_exists(pk) OR lockedUntil < :now',
      ExpressionAttributeValues: { ':now': { N: String(NOW) } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD', // the holder's end, read back with the refusal
    });
  });

  it("frees only its own lock: one that lapsed and was taken over stays the new owner's", async () => {
    db.on(DeleteItemCommand).resolvesOnce({}).rejectsOnce(conditionFailed());
    await store.unlockResource('trail-logging#example-audit-trail', 'owner-1');
    await expect(store.unlockResource('trail-logging#example-audit-trail', 'owner-1')).resolves.toBeUndefined();
    expect(db).toHaveReceivedCommandWith(DeleteItemCommand, {
      Key: { pk: { S: 'lock#trail-logging#example-audit-trail' } },
      ConditionExpression: '#owner = :owner',
      ExpressionAttributeValues: { ':owner': { S: 'owner-1' } },
    });
  });

  it('rethrows a throttled lock attempt classified, never reading it as "held"', async () => {
    db.on(PutItemCommand).rejects(Object.assign(new Error('slow'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 500 } }));
    await expect(store.lockResource('x', 'o', NOW, 1)).rejects.toMatchObject({ name: 'AwsCallError', kind: 'transient' });
  });
});

describe('the memory store has the same semantics', () => {
  it('keeps the intent through a give-back, hands it to the next claim, and refuses a stale token', async () => {
    const memory = memoryStateStore();
    const first = await memory.claimEvent('k', NOW, 90_000, 3_600_000);
    const token = first.kind === 'claimed' ? first.token : '';
    expect(await memory.recordIntent('k', token, INTENT)).toBe(true);
    await memory.releaseEvent('k', token, true);
    const retry = await memory.claimEvent('k', NOW, 90_000, 3_600_000);
    expect(retry).toEqual({ kind: 'claimed', token: expect.any(String), intent: INTENT });
    expect(await memory.recordIntent('k', token, INTENT)).toBe(false); // the first try's token is stale now
  });

  it('holds a lock against other owners until it is freed or lapses', async () => {
    const memory = memoryStateStore();
    expect(await memory.lockResource('r', 'a', NOW, 1_000)).toEqual({ kind: 'taken' });
    expect(await memory.lockResource('r', 'b', NOW + 500, 1_000)).toEqual({ kind: 'held', until: NOW + 1_000 });
    await memory.unlockResource('r', 'b'); // not b's: stays a's
    expect(await memory.lockResource('r', 'b', NOW + 999, 1_000)).toEqual({ kind: 'held', until: NOW + 1_000 });
    expect(await memory.lockResource('r', 'b', NOW + 1_001, 1_000)).toEqual({ kind: 'taken' }); // a's lapsed
    await memory.unlockResource('r', 'b');
    expect(await memory.lockResource('r', 'c', NOW + 1_002, 1_000)).toEqual({ kind: 'taken' });
  });
});
