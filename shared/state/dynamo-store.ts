import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { addDeadlineGuard, baseClientConfig } from '../aws/client-options.js';
import { awsCall, hasErrorCode } from '../aws/errors.js';
import { AwsCallError } from '../errors.js';
import type { Outcome } from '../remediation-log.js';
import { randomUUID } from 'node:crypto';
import type { Claim, Intent, StateStore } from './store.js';

const seconds = (ms: number) => String(Math.ceil(ms / 1000));

/** A claim is free, given back (retryable), or in progress under a lock whose holder died (timed out) without settling it. */
const CLAIMABLE = 'attribute_not_exists(pk) OR #status = :retryable OR (#status = :inProgress AND lockedUntil < :now)';
/** The same, or in progress under this Lambda invocation's id: an earlier try of it, ended (RunDeps.invocationId). */
const CLAIMABLE_BY_RETRY = 'attribute_not_exists(pk) OR #status = :retryable OR (#status = :inProgress AND (lockedUntil < :now OR #invocation = :invocation))';

/** An intent as the claim item holds it (JSON, written by `recordIntent` only); undefined if absent. */
function intentOf(item: Record<string, { S?: string }> | undefined): Intent | undefined {
  const json = item?.intent?.S;
  return json === undefined ? undefined : (JSON.parse(json) as Intent);
}

/**
 * The item a conditional write found, as `ReturnValuesOnConditionCheckFailure: 'ALL_OLD'` returns it. The SDK
 * resends a write whose response was lost (reset, timeout): the resend then fails its condition on the item the
 * first send wrote, so a token of ours in this item means the write is ours, not someone else's.
 */
function conditionFailedItem(error: unknown): Record<string, { S?: string; N?: string }> {
  return (error as { Item?: Record<string, { S?: string; N?: string }> }).Item ?? {};
}

/**
 * A call on trailguard's own table. Its absence (ResourceNotFoundException: not deployed, misnamed) is no
 * "resource gone" that ends an event as `ignored`: it is trailguard's infrastructure failing, so the event is
 * retried and then dead-lettered (alarmed, redrivable once the table is back), never dropped.
 */
async function stateCall<T>(api: string, table: string, call: () => Promise<T>): Promise<T> {
  try {
    return await awsCall(api, table, call);
  } catch (error) {
    if (error instanceof AwsCallError && error.kind === 'gone') {
      throw new AwsCallError(
        api,
        table,
        'transient',
        error.code,
        `trailguard's state table ${table} does not exist: deploy the stack or fix TRAILGUARD_STATE_TABLE; the event is retried, then dead-lettered for redrive`,
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * The state store on one DynamoDB table (`pk` string key, TTL on `expiresAt` in epoch seconds), with
 * conditional writes so that two concurrent deliveries of one event cannot both claim it.
 */
export function dynamoStateStore(table: string, region: string, endpoint: string | undefined): StateStore {
  let client: DynamoDBClient | undefined;
  // The deadline guard: a claim, count or settle made within an invocation's deadline ends by it (issue 22).
  const db = () => (client ??= addDeadlineGuard(new DynamoDBClient(baseClientConfig({ region, endpoint, readOnly: false }))));
  return {
    async claimEvent(key, nowMs, lockMs, keepMs, invocation) {
      const token = randomUUID();
      return stateCall('DynamoDB.UpdateItem', table, async (): Promise<Claim> => {
        try {
          // An update, not a put: a claim given back after a transient failure keeps the intent it recorded.
          const answer = await db().send(
            new UpdateItemCommand({
              TableName: table,
              Key: { pk: { S: `event#${key}` } },
              UpdateExpression:
                invocation === undefined
                  ? 'SET #status = :inProgress, #at = :at, lockedUntil = :lockedUntil, expiresAt = :expires, claimToken = :token REMOVE #invocation'
                  : 'SET #status = :inProgress, #at = :at, lockedUntil = :lockedUntil, expiresAt = :expires, claimToken = :token, #invocation = :invocation',
              // Free, given back (retryable), or a lock whose holder died (timed out) without settling it; with an
              // invocation, also a lock an earlier (ended) try of the same Lambda invocation still holds.
              ConditionExpression: invocation === undefined ? CLAIMABLE : CLAIMABLE_BY_RETRY,
              ExpressionAttributeNames: { '#status': 'status', '#at': 'at', '#invocation': 'invocation' },
              ExpressionAttributeValues: {
                ':inProgress': { S: 'in-progress' },
                ':retryable': { S: 'retryable' },
                ':at': { S: new Date(nowMs).toISOString() },
                ':lockedUntil': { N: String(nowMs + lockMs) },
                ':expires': { N: seconds(nowMs + keepMs) },
                ':token': { S: token },
                ':now': { N: String(nowMs) },
                ...(invocation === undefined ? {} : { ':invocation': { S: invocation } }),
              },
              ReturnValues: 'ALL_OLD',
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }),
          );
          const intent = intentOf(answer.Attributes);
          return intent ? { kind: 'claimed', token, intent } : { kind: 'claimed', token };
        } catch (error) {
          if (!hasErrorCode(error, 'ConditionalCheckFailedException')) throw error; // the one code that means "taken"
          const old = conditionFailedItem(error);
          if (old.claimToken?.S === token) {
            // Our own claim, its response lost: the item holds what the update kept (an earlier try's intent).
            const kept = intentOf(old);
            return kept ? { kind: 'claimed', token, intent: kept } : { kind: 'claimed', token };
          }
          return {
            kind: 'duplicate',
            status: old.status?.S === 'done' ? 'done' : 'in-progress',
            outcome: (old.outcome?.S as Outcome | undefined) ?? null,
            at: old.at?.S ?? 'unknown',
          };
        }
      });
    },
    async concludeEvent(key, token, outcome, nowMs, keepMs) {
      return stateCall('DynamoDB.UpdateItem', table, async () => {
        try {
          await db().send(
            new UpdateItemCommand({
              TableName: table,
              Key: { pk: { S: `event#${key}` } },
              // The token stays on the done item: the SDK's resend of an update whose response was lost passes again.
              UpdateExpression: 'SET #status = :done, #outcome = :outcome, #at = :at, expiresAt = :expires REMOVE #intent, lockedUntil',
              ConditionExpression: 'claimToken = :token', // still ours: one that lapsed and was taken over is the taker's to tell
              ExpressionAttributeNames: { '#status': 'status', '#outcome': 'outcome', '#at': 'at', '#intent': 'intent' },
              ExpressionAttributeValues: {
                ':done': { S: 'done' },
                ':outcome': { S: outcome },
                ':at': { S: new Date(nowMs).toISOString() },
                ':expires': { N: seconds(nowMs + keepMs) },
                ':token': { S: token },
              },
            }),
          );
          return true;
        } catch (error) {
          if (!hasErrorCode(error, 'ConditionalCheckFailedException')) throw error;
          return false;
        }
      });
    },
    async releaseEvent(key, token, keepIntent) {
      await stateCall('DynamoDB.UpdateItem', table, async () => {
        try {
          await db().send(
            new UpdateItemCommand({
              TableName: table,
              Key: { pk: { S: `event#${key}` } },
              // The intent stays only if a write of it may have landed unseen (the retry reads it back).
              UpdateExpression: `SET #status = :retryable REMOVE lockedUntil, claimToken${keepIntent ? '' : ', #intent'}`,
              ConditionExpression: 'claimToken = :token', // still ours: never free a claim another invocation took over
              ExpressionAttributeNames: keepIntent ? { '#status': 'status' } : { '#status': 'status', '#intent': 'intent' },
              ExpressionAttributeValues: { ':retryable': { S: 'retryable' }, ':token': { S: token } },
            }),
          );
        } catch (error) {
          if (!hasErrorCode(error, 'ConditionalCheckFailedException')) throw error;
        }
      });
    },
    async recordIntent(key, token, intent) {
      return stateCall('DynamoDB.UpdateItem', table, async () => {
        try {
          await db().send(
            new UpdateItemCommand({
              TableName: table,
              Key: { pk: { S: `event#${key}` } },
              UpdateExpression: 'SET #intent = :intent',
              ConditionExpression: '#status = :inProgress AND claimToken = :token',
              ExpressionAttributeNames: { '#status': 'status', '#intent': 'intent' },
              ExpressionAttributeValues: { ':intent': { S: JSON.stringify(intent) }, ':inProgress': { S: 'in-progress' }, ':token': { S: token } },
            }),
          );
          return true;
        } catch (error) {
          if (!hasErrorCode(error, 'ConditionalCheckFailedException')) throw error;
          return false;
        }
      });
    },
    async markFix(name, intentId, nowMs, keepMs) {
      await stateCall('DynamoDB.PutItem', table, () =>
        db().send(
          new PutItemCommand({
            TableName: table,
            Item: {
              pk: { S: `fix#${name}` },
              intentId: { S: intentId },
              at: { S: new Date(nowMs).toISOString() },
              expiresAt: { N: seconds(nowMs + keepMs) },
            },
          }),
        ),
      );
    },
    async lastFixOf(name) {
      const answer = await stateCall('DynamoDB.GetItem', table, () =>
        db().send(
          new GetItemCommand({
            TableName: table,
            Key: { pk: { S: `fix#${name}` } },
            ConsistentRead: true,
          }),
        ),
      );
      return answer.Item?.intentId?.S;
    },
    async lockResource(name, owner, nowMs, holdMs) {
      return stateCall('DynamoDB.PutItem', table, async () => {
        try {
          await db().send(
            new PutItemCommand({
              TableName: table,
              Item: {
                pk: { S: `lock#${name}` },
                owner: { S: owner },
                lockedUntil: { N: String(nowMs + holdMs) },
                expiresAt: { N: seconds(nowMs + holdMs + 3_600_000) }, // TTL only tidies: `lockedUntil` decides
              },
              ConditionExpression: 'attribute_not_exists(pk) OR lockedUntil < :now',
              ExpressionAttributeValues: { ':now': { N: String(nowMs) } },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }),
          );
          return { kind: 'taken' };
        } catch (error) {
          if (!hasErrorCode(error, 'ConditionalCheckFailedException')) throw error;
          const old = conditionFailedItem(error);
          // Our own lock, its response lost: not "held by another", which would wait on itself and never free it.
          if (old.owner?.S === owner) return { kind: 'taken' };
          return { kind: 'held', until: Number(old.lockedUntil?.N ?? nowMs + holdMs) };
        }
      });
    },
    async unlockResource(name, owner) {
      await stateCall('DynamoDB.DeleteItem', table, async () => {
        try {
          await db().send(
            new DeleteItemCommand({
              TableName: table,
              Key: { pk: { S: `lock#${name}` } },
              ConditionExpression: '#owner = :owner', // a lock that lapsed and was taken over is the new owner's
              ExpressionAttributeNames: { '#owner': 'owner' },
              ExpressionAttributeValues: { ':owner': { S: owner } },
            }),
          );
        } catch (error) {
          if (!hasErrorCode(error, 'ConditionalCheckFailedException')) throw error;
        }
      });
    },
    async addToWindow(counter, windowStartMs, count, expiresMs) {
      const answer = await stateCall('DynamoDB.UpdateItem', table, () =>
        db().send(
          new UpdateItemCommand({
            TableName: table,
            Key: { pk: { S: `count#${counter}#${windowStartMs}` } },
            UpdateExpression: 'ADD #total :n SET expiresAt = :expires',
            ExpressionAttributeNames: { '#total': 'total' },
            ExpressionAttributeValues: { ':n': { N: String(count) }, ':expires': { N: seconds(expiresMs) } },
            // ALL_NEW, not UPDATED_NEW: an ADD of 0 (a read of the window) is no update to some stores, which then return no total.
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return Number(answer.Attributes?.total?.N ?? count);
    },
    async keepFirst(counter, windowStartMs, value, expiresMs) {
      // One conditional-free update: `if_not_exists` keeps the first writer's value, and the answer says which it is.
      const answer = await stateCall('DynamoDB.UpdateItem', table, () =>
        db().send(
          new UpdateItemCommand({
            TableName: table,
            Key: { pk: { S: `first#${counter}#${windowStartMs}` } },
            UpdateExpression: 'SET #first = if_not_exists(#first, :value), expiresAt = if_not_exists(expiresAt, :expires)',
            ExpressionAttributeNames: { '#first': 'first' },
            ExpressionAttributeValues: { ':value': { S: value }, ':expires': { N: seconds(expiresMs) } },
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return answer.Attributes?.first?.S ?? value;
    },
    async windowTotal(counter, windowStartMs) {
      const answer = await stateCall('DynamoDB.GetItem', table, () =>
        db().send(
          new GetItemCommand({
            TableName: table,
            Key: { pk: { S: `count#${counter}#${windowStartMs}` } },
            ConsistentRead: true,
          }),
        ),
      );
      return Number(answer.Item?.total?.N ?? 0);
    },
    async breakerState(rule) {
      const answer = await stateCall('DynamoDB.GetItem', table, () =>
        db().send(
          new GetItemCommand({
            TableName: table,
            Key: { pk: { S: `breaker#${rule}` } },
            ConsistentRead: true,
          }),
        ),
      );
      const item = answer.Item;
      return item ? { open: true, since: item.since?.S ?? 'unknown', reason: item.reason?.S ?? '' } : { open: false };
    },
    async tripBreaker(rule, nowMs, reason) {
      const token = randomUUID();
      return stateCall('DynamoDB.PutItem', table, async () => {
        try {
          await db().send(
            new PutItemCommand({
              TableName: table,
              Item: { pk: { S: `breaker#${rule}` }, since: { S: new Date(nowMs).toISOString() }, reason: { S: reason }, tripToken: { S: token } },
              // Exactly one of a burst's concurrent trips creates the item (and pages); it keeps its time and reason.
              ConditionExpression: 'attribute_not_exists(pk)',
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }),
          );
          return true;
        } catch (error) {
          if (!hasErrorCode(error, 'ConditionalCheckFailedException')) throw error;
          // Our own trip, its response lost: this call opened the breaker, so it pages the trip.
          return conditionFailedItem(error).tripToken?.S === token;
        }
      });
    },
    async resetBreaker(rule) {
      await stateCall('DynamoDB.DeleteItem', table, () => db().send(new DeleteItemCommand({ TableName: table, Key: { pk: { S: `breaker#${rule}` } } })));
    },
  };
}
