import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dynamoStateStore } from '../../../shared/state/dynamo-store.js';
import { startLocalEndpoint, type LocalEndpoint } from '../../helpers/local-endpoint.js';
import { holds } from '../../helpers/table-conditions.js';

// Review of issue 22, finding 3: a conditional write that lands but whose response is lost (the connection is
// reset) is resent by the SDK, and the resend fails its condition on the item the first send wrote. Only a real
// HTTP endpoint goes through the SDK's retry (aws-sdk-client-mock replaces `send`, retries included): this small
// DynamoDB double applies each write's condition, answers ALL_OLD items on a failed condition when asked, as
// DynamoDB does, and drops the connection after applying the first write of each item.

type Item = Record<string, { S?: string; N?: string }>;
interface Request {
  readonly Key?: Item;
  readonly Item?: Item;
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeValues?: Item;
  readonly ReturnValuesOnConditionCheckFailure?: string;
}

let local: LocalEndpoint;
let endpoint: string;
const table = new Map<string, Item>();
const dropped = new Set<string>();
const requests: string[] = [];
/** The pk whose first write is applied and then answered with a reset connection. */
let dropFirstWriteOf: string | undefined;

/** PutItem writes the item; UpdateItem (the claim) sets status, lockedUntil and claimToken; DeleteItem removes it. */
function applied(operation: string, request: Request, old: Item | undefined): Item | undefined {
  if (operation === 'DeleteItem') return undefined;
  if (operation === 'PutItem') return request.Item ?? {};
  const values = request.ExpressionAttributeValues ?? {};
  return { ...old, pk: request.Key?.pk ?? {}, status: { S: 'in-progress' }, lockedUntil: values[':lockedUntil'] ?? {}, claimToken: values[':token'] ?? {} };
}

beforeAll(async () => {
  local = await startLocalEndpoint((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      const operation = String(req.headers['x-amz-target']).split('.')[1] ?? '';
      const request = JSON.parse(body) as Request;
      const pk = String((request.Item ?? request.Key)?.pk?.S);
      requests.push(`${operation} ${pk}`);
      const old = table.get(pk);
      if (!holds(request.ConditionExpression, old, request.ExpressionAttributeValues ?? {})) {
        const item = request.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && old ? { Item: old } : {};
        res
          .writeHead(400, { 'content-type': 'application/x-amz-json-1.0' })
          .end(
            JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException', message: 'The conditional request failed', ...item }),
          );
        return;
      }
      const item = applied(operation, request, old);
      if (item) table.set(pk, item);
      else table.delete(pk);
      if (pk === dropFirstWriteOf && !dropped.has(pk)) {
        dropped.add(pk);
        req.socket.destroy(); // landed, response lost: the SDK sees ECONNRESET and resends
        return;
      }
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{}');
    });
  });
  endpoint = local.url;
});
afterAll(() => local.close());
beforeEach(() => {
  table.clear();
  dropped.clear();
  requests.length = 0;
  dropFirstWriteOf = undefined;
});

const NOW = Date.parse('2026-11-25T12:00:00Z');
const LOCK = 'trail-logging#111122223333#us-east-1#example-audit-trail';

describe("a conditional write whose response was lost reads as this caller's own, not another's", () => {
  it('the breaker trip: the one caller that opened it is told so, and pages the trip', async () => {
    dropFirstWriteOf = 'breaker#trail-logging';
    const store = dynamoStateStore('trailguard-test-state', 'us-east-1', endpoint);

    const won = await store.tripBreaker('trail-logging', NOW, '11 writes in 10 min exceed the limit of 10');
    const later = await store.tripBreaker('trail-logging', NOW + 1, '12 writes in 10 min exceed the limit of 10');

    expect(requests).toEqual(['PutItem breaker#trail-logging', 'PutItem breaker#trail-logging', 'PutItem breaker#trail-logging']);
    expect(won).toBe(true);
    expect(later).toBe(false); // another caller's trip still loses
    expect(table.get('breaker#trail-logging')?.reason?.S).toBe('11 writes in 10 min exceed the limit of 10');
  });

  it('the resource lock: taken by its owner (so it is freed after the decision), held against another owner with its end', async () => {
    dropFirstWriteOf = `lock#${LOCK}`;
    const store = dynamoStateStore('trailguard-test-state', 'us-east-1', endpoint);

    const own = await store.lockResource(LOCK, 'owner-1', NOW, 30_000);
    const other = await store.lockResource(LOCK, 'owner-2', NOW + 1_000, 30_000);
    await store.unlockResource(LOCK, 'owner-1');

    expect(requests.filter((r) => r.startsWith('PutItem'))).toHaveLength(3); // sent, resent, the other owner's
    expect(own).toEqual({ kind: 'taken' });
    expect(other).toEqual({ kind: 'held', until: NOW + 30_000 });
    expect(table.has(`lock#${LOCK}`)).toBe(false);
  });

  it('the event claim: claimed by this delivery, not a duplicate "in progress" that retries itself until its lock lapses', async () => {
    dropFirstWriteOf = 'event#trail-logging#e-1';
    const store = dynamoStateStore('trailguard-test-state', 'us-east-1', endpoint);

    const claim = await store.claimEvent('trail-logging#e-1', NOW, 90_000, 3_600_000);
    const redelivery = await store.claimEvent('trail-logging#e-1', NOW + 1_000, 90_000, 3_600_000);

    expect(requests).toEqual(Array(3).fill('UpdateItem event#trail-logging#e-1'));
    expect(claim).toEqual({ kind: 'claimed', token: table.get('event#trail-logging#e-1')?.claimToken?.S });
    expect(redelivery).toMatchObject({ kind: 'duplicate', status: 'in-progress' });
  });
});
