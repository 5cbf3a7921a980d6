import {
  DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { baseClientConfig } from '../aws/client-options.js';
import { awsCall, hasErrorCode } from '../aws/errors.js';
import { AwsCallError } from '../errors.js';
import type { Outcome } from '../remediation-log.js';
import type { Claim, StateStore } from './store.js';

const seconds = (ms: number) => String(Math.ceil(ms / 1000));

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
      throw new AwsCallError(api, table, 'transient', error.code, `trailguard's state table ${table} does not exist: deploy the stack or fix TRAILGUARD_STATE_TABLE; the event is retried, then dead-lettered for redrive`, { cause: error });
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
  const db = () => (client ??= new DynamoDBClient(baseClientConfig({ region, endpoint, readOnly: false })));
  return {
    async claimEvent(key, nowMs, lockMs, keepMs) {
      const pk = `event#${key}`;
      return stateCall('DynamoDB.PutItem', table, async (): Promise<Claim> => {
        try {
          await db().send(new PutItemCommand({
            TableName: table,
            Item: {
              pk: { S: pk }, status: { S: 'in-progress' }, at: { S: new Date(nowMs).toISOString() },
              lockedUntil: { N: String(nowMs + lockMs) }, expiresAt: { N: seconds(nowMs + keepMs) },
            },
            // Free, or a lock whose holder died (timed out) without completing or releasing it.
            ConditionExpression: 'attribute_not_exists(pk) OR (#status = :inProgress AND lockedUntil < :now)',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':inProgress': { S: 'in-progress' }, ':now': { N: String(nowMs) } },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }));
          return { kind: 'claimed' };
        } catch (error) {
          if (!hasErrorCode(error, 'ConditionalCheckFailedException')) throw error; // the one code that means "taken"
          const old = (error as { Item?: Record<string, { S?: string }> }).Item ?? {};
          return {
            kind: 'duplicate',
            status: old.status?.S === 'done' ? 'done' : 'in-progress',
            outcome: (old.outcome?.S as Outcome | undefined) ?? null,
            at: old.at?.S ?? 'unknown',
          };
        }
      });
    },
    async completeEvent(key, outcome, nowMs, keepMs) {
      await stateCall('DynamoDB.PutItem', table, () => db().send(new PutItemCommand({
        TableName: table,
        Item: {
          pk: { S: `event#${key}` }, status: { S: 'done' }, outcome: { S: outcome },
          at: { S: new Date(nowMs).toISOString() }, expiresAt: { N: seconds(nowMs + keepMs) },
        },
      })));
    },
    async releaseEvent(key) {
      await stateCall('DynamoDB.DeleteItem', table, () => db().send(new DeleteItemCommand({ TableName: table, Key: { pk: { S: `event#${key}` } } })));
    },
    async addToWindow(counter, windowStartMs, count, expiresMs) {
      const answer = await stateCall('DynamoDB.UpdateItem', table, () => db().send(new UpdateItemCommand({
        TableName: table,
        Key: { pk: { S: `count#${counter}#${windowStartMs}` } },
        UpdateExpression: 'ADD #total :n SET expiresAt = :expires',
        ExpressionAttributeNames: { '#total': 'total' },
        ExpressionAttributeValues: { ':n': { N: String(count) }, ':expires': { N: seconds(expiresMs) } },
        ReturnValues: 'UPDATED_NEW',
      })));
      return Number(answer.Attributes?.total?.N ?? count);
    },
    async breakerState(rule) {
      const answer = await stateCall('DynamoDB.GetItem', table, () => db().send(new GetItemCommand({
        TableName: table, Key: { pk: { S: `breaker#${rule}` } }, ConsistentRead: true,
      })));
      const item = answer.Item;
      return item ? { open: true, since: item.since?.S ?? 'unknown', reason: item.reason?.S ?? '' } : { open: false };
    },
    async tripBreaker(rule, nowMs, reason) {
      await stateCall('DynamoDB.PutItem', table, async () => {
        try {
          await db().send(new PutItemCommand({
            TableName: table,
            Item: { pk: { S: `breaker#${rule}` }, since: { S: new Date(nowMs).toISOString() }, reason: { S: reason } },
            ConditionExpression: 'attribute_not_exists(pk)', // keep the first trip's time and reason
          }));
        } catch (error) {
          if (!hasErrorCode(error, 'ConditionalCheckFailedException')) throw error;
        }
      });
    },
    async resetBreaker(rule) {
      await stateCall('DynamoDB.DeleteItem', table, () => db().send(new DeleteItemCommand({ TableName: table, Key: { pk: { S: `breaker#${rule}` } } })));
    },
  };
}
