import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dynamoStateStore } from '../../../shared/state/dynamo-store.js';
import { memoryStateStore, type Intent } from '../../../shared/state/store.js';
import { holds, updated, type Item } from '../../helpers/table-conditions.js';

// Review of issue 22, findings 1 and 2: a claim is concluded before anyone is told, given back with its intent
// only while a write of it may have landed, and each resource names the intent that last acted on it.
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
const MARKER = 'trail-logging#111122223333#us-east-1#example-audit-trail';
const conditionFailed = () => Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });

beforeEach(() => {
  db.reset();
  db.rejects(new Error('unexpected DynamoDB call'));
});
afterEach(() => db.reset());

describe('the DynamoDB store: settling a claim', () => {
  it('concludes only the claim this token holds, dropping the intent and keeping the token (a resend passes again)', async () => {
    db.on(UpdateItemCommand).resolvesOnce({}).rejectsOnce(conditionFailed());

    expect(await store.concludeEvent('trail-logging#e-1', 'token-1', 'remediated', NOW, 3_600_000)).toBe(true);
    expect(await store.concludeEvent('trail-logging#e-1', 'token-1', 'remediated', NOW, 3_600_000)).toBe(false); // taken over

    expect(db).toHaveReceivedCommandWith(UpdateItemCommand, {
      Key: { pk: { S: 'event#trail-logging#e-1' } },
      UpdateExpression: 'SET #status = :done, #outcome = :outcome, #at = :at, expiresAt = :expires REMOVE #intent, lockedUntil',
      ConditionExpression: 'claimToken = :token',
      ExpressionAttributeNames: { '#status': 'status', '#outcome': 'outcome', '#at': 'at', '#intent': 'intent' },
      ExpressionAttributeValues: {
        ':done': { S: 'done' },
        ':outcome': { S: 'remediated' },
        ':at': { S: '2026-11-25T12:00:00.000Z' },
        ':expires': { N: String(NOW / 1000 + 3600) },
        ':token': { S: 'token-1' },
      },
    });
  });

  it('rethrows a throttled conclusion classified, never reading it as "taken over"', async () => {
    db.on(UpdateItemCommand).rejects(Object.assign(new Error('slow'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } }));
    await expect(store.concludeEvent('k', 't', 'remediated', NOW, 1)).rejects.toMatchObject({
      name: 'AwsCallError',
      kind: 'transient',
      api: 'DynamoDB.UpdateItem',
    });
  });

  it('gives a claim back without its intent when no write of it can have landed', async () => {
    db.on(UpdateItemCommand).resolves({});

    await store.releaseEvent('trail-logging#e-1', 'token-1', false);

    expect(db).toHaveReceivedCommandWith(UpdateItemCommand, {
      Key: { pk: { S: 'event#trail-logging#e-1' } },
      UpdateExpression: 'SET #status = :retryable REMOVE lockedUntil, claimToken, #intent',
      ConditionExpression: 'claimToken = :token',
      ExpressionAttributeNames: { '#status': 'status', '#intent': 'intent' },
    });
  });
});

describe('the DynamoDB store: fix markers', () => {
  it('puts the intent that acts on a resource, and reads it back consistently', async () => {
    db.on(PutItemCommand).resolves({});
    db.on(GetItemCommand)
      .resolvesOnce({ Item: { pk: { S: `fix#${MARKER}` }, intentId: { S: 'intent-1' } } })
      .resolves({});

    await store.markFix(MARKER, 'intent-1', NOW, 3_600_000);

    expect(await store.lastFixOf(MARKER)).toBe('intent-1');
    expect(await store.lastFixOf(MARKER)).toBeUndefined(); // expired, or never marked
    expect(db).toHaveReceivedCommandWith(PutItemCommand, {
      Item: { pk: { S: `fix#${MARKER}` }, intentId: { S: 'intent-1' }, at: { S: '2026-11-25T12:00:00.000Z' }, expiresAt: { N: String(NOW / 1000 + 3600) } },
    });
    expect(db).toHaveReceivedCommandWith(GetItemCommand, { Key: { pk: { S: `fix#${MARKER}` } }, ConsistentRead: true });
  });
});

describe("the DynamoDB store: Lambda's retry of an invocation takes over its earlier try's claim", () => {
  it('takes an in-progress claim held under the same request id at once, and no other', async () => {
    // One item, changed only as DynamoDB would apply the store's own conditions and update expressions.
    let item: Item | undefined;
    db.on(UpdateItemCommand).callsFake((input: UpdateItemCommandInput) => {
      if (!holds(input.ConditionExpression, item, input.ExpressionAttributeValues ?? {})) {
        throw Object.assign(conditionFailed(), { Item: item });
      }
      const old = item;
      item = updated(item, input);
      return old ? { Attributes: old } : {};
    });

    const first = await store.claimEvent('trail-logging#e-1', NOW, 30_000, 3_600_000, 'req-1');
    // Its give-back failed: the claim stays in progress, locked for 30 s.
    const otherDelivery = await store.claimEvent('trail-logging#e-1', NOW + 1_000, 30_000, 3_600_000, 'req-2');
    const cli = await store.claimEvent('trail-logging#e-1', NOW + 1_000, 30_000, 3_600_000);
    const retry = await store.claimEvent('trail-logging#e-1', NOW + 1_000, 30_000, 3_600_000, 'req-1');

    expect(first).toMatchObject({ kind: 'claimed' });
    expect(otherDelivery).toMatchObject({ kind: 'duplicate', status: 'in-progress' });
    expect(cli).toMatchObject({ kind: 'duplicate', status: 'in-progress' });
    expect(retry).toEqual({ kind: 'claimed', token: expect.any(String) });
    expect(retry).not.toEqual(first);
    expect(item).toMatchObject({ status: { S: 'in-progress' }, invocation: { S: 'req-1' }, lockedUntil: { N: String(NOW + 31_000) } });
    // A claim taken without a request id names none, so no retry takes it over early.
    await store.concludeEvent('trail-logging#e-1', retry.kind === 'claimed' ? retry.token : '', 'remediated', NOW + 2_000, 3_600_000);
    item = undefined;
    await store.claimEvent('trail-logging#e-2', NOW, 30_000, 3_600_000);
    expect(item).not.toHaveProperty('invocation');
    expect(await store.claimEvent('trail-logging#e-2', NOW + 1_000, 30_000, 3_600_000, 'req-1')).toMatchObject({ kind: 'duplicate' });
  });
});

describe('the memory store settles claims the same way', () => {
  it("lets Lambda's retry of an invocation (same request id) take over its in-progress claim, and no other", async () => {
    const memory = memoryStateStore();
    await memory.claimEvent('k', NOW, 30_000, 3_600_000, 'req-1');

    expect(await memory.claimEvent('k', NOW + 1_000, 30_000, 3_600_000, 'req-2')).toMatchObject({ kind: 'duplicate', status: 'in-progress' });
    expect(await memory.claimEvent('k', NOW + 1_000, 30_000, 3_600_000)).toMatchObject({ kind: 'duplicate', status: 'in-progress' });
    expect(await memory.claimEvent('k', NOW + 1_000, 30_000, 3_600_000, 'req-1')).toMatchObject({ kind: 'claimed' });
  });

  it('concludes with the live token only; a concluded claim is a duplicate, without its intent', async () => {
    const memory = memoryStateStore();
    const first = await memory.claimEvent('k', NOW, 90_000, 3_600_000);
    const token = first.kind === 'claimed' ? first.token : '';
    await memory.recordIntent('k', token, INTENT);

    expect(await memory.concludeEvent('k', 'someone-else', 'remediated', NOW, 3_600_000)).toBe(false);
    expect(await memory.concludeEvent('k', token, 'remediated', NOW, 3_600_000)).toBe(true);
    expect(await memory.concludeEvent('k', token, 'remediated', NOW, 3_600_000)).toBe(true); // repeatable by its token

    expect(await memory.claimEvent('k', NOW + 3_600_000, 90_000, 3_600_000)).toEqual({
      kind: 'duplicate',
      status: 'done',
      outcome: 'remediated',
      at: '2026-11-25T12:00:00.000Z',
    });
    expect(memory.items.get('event#k')).not.toHaveProperty('intent');
  });

  it('hands the next claim the intent only when it was given back keeping it', async () => {
    const memory = memoryStateStore();
    const first = await memory.claimEvent('k', NOW, 90_000, 3_600_000);
    const token = first.kind === 'claimed' ? first.token : '';
    await memory.recordIntent('k', token, INTENT);

    await memory.releaseEvent('k', token, false);
    const retry = await memory.claimEvent('k', NOW, 90_000, 3_600_000);

    expect(retry).toEqual({ kind: 'claimed', token: expect.any(String) });
    expect(retry).not.toHaveProperty('intent');
  });

  it('names the latest intent to act on a resource', async () => {
    const memory = memoryStateStore();
    expect(await memory.lastFixOf(MARKER)).toBeUndefined();
    await memory.markFix(MARKER, 'intent-1', NOW, 3_600_000);
    await memory.markFix(MARKER, 'intent-2', NOW + 1, 3_600_000);
    expect(await memory.lastFixOf(MARKER)).toBe('intent-2');
  });
});
