import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type GetItemCommandInput,
  type PutItemCommandInput,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../../shared/config.js';
import { wrapRecord } from '../../../shared/events/schema.js';
import { violation, type AnyRule } from '../../../shared/rule.js';
import { run } from '../../../shared/runner/run.js';
import { dynamoStateStore } from '../../../shared/state/dynamo-store.js';
import { memoryStateStore, type StateStore } from '../../../shared/state/store.js';
import { testAction } from '../../helpers/actions.js';
import { capturingDeps } from '../../helpers/samples.js';

// Issue 22, item 3: events in flight at once each saw the write count pass the limit before the open breaker
// existed, and each paged the trip. These runs overlap (Promise.all), and the DynamoDB double yields before
// every call applies, so reads and conditional writes of different invocations interleave as they do in Lambda.

const LIMIT = 3;
const OVER = 10;
const config = parseConfig({ reliability: { breaker: { maxWrites: LIMIT, windowMinutes: 10 }, digest: { maxPerWindow: 100, windowMinutes: 5 } } });

/** A rule that plans one write per resource; `act` is the spy its action type performs with. */
function writingRule() {
  const act = vi.fn(async () => undefined);
  const rule = {
    id: 'public-bucket',
    pattern: { source: ['aws.s3'] },
    permissions: {},
    settings: () => ({ enabled: true }),
    clients: () => ({}),
    parse: ({ record }) => ({ resources: [{ type: 'AWS::S3::Bucket', id: String((record.requestParameters as { bucketName: string }).bucketName) }] }),
    inspect: async () => ({}),
    decide: (facts: { resources: { type: string; id: string }[] }) =>
      violation(
        'public',
        'HIGH',
        facts.resources,
        facts.resources.map((resource) => ({ api: 'S3.PutPublicAccessBlock', resource, params: {} })),
      ),
    actions: [testAction('S3.PutPublicAccessBlock', { perform: act, verify: async () => ({ ok: true, detail: 'ok' }) })],
    message: () => ({ title: 'fixed', lines: [] }),
  } satisfies AnyRule;
  return { rule, act };
}

const eventFor = (i: number) =>
  wrapRecord({
    eventTime: '2026-11-20T09:15:00Z',
    eventSource: 's3.amazonaws.com',
    eventName: 'PutBucketAcl',
    awsRegion: 'eu-west-1',
    eventID: `race-${i}`,
    recipientAccountId: '111122223333',
    userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/alice' },
    requestParameters: { bucketName: `example-race-${i}` },
  });

/** The limit's worth of events plus OVER more, all in flight at once against one store. */
async function burstAgainst(store: StateStore) {
  const { rule, act } = writingRule();
  const deps = { ...capturingDeps({ mode: 'live', config }), store };
  const events = Array.from({ length: LIMIT + OVER }, (_, i) => eventFor(i));
  const records = await Promise.all(events.map((event) => run(rule, event, deps)));
  return { records, deps, act };
}

function expectOneTripPage({ records, deps, act }: Awaited<ReturnType<typeof burstAgainst>>) {
  const refused = records.filter((r) => r.outcome === 'would-remediate');
  const trips = refused.filter((r) => r.reason.includes('circuit breaker tripped'));
  // A loser either lost the conditional write or, interleaved later, already read the breaker open.
  const open = refused.filter((r) => r.reason.includes('the public-bucket circuit breaker is open'));
  expect(records.filter((r) => r.outcome === 'remediated')).toHaveLength(LIMIT);
  expect(act).toHaveBeenCalledTimes(LIMIT);
  expect(refused).toHaveLength(OVER);
  expect(trips).toHaveLength(1);
  expect(trips[0]).toMatchObject({ severity: 'CRITICAL', notification: { status: 'sent' } });
  // The losers report the open breaker at their own severity, so a digest can fold them.
  expect(open).toHaveLength(OVER - 1);
  expect(open.every((r) => r.severity === 'HIGH' && r.reason.includes('reset with: trailguard breaker reset public-bucket'))).toBe(true);
  expect(open.some((r) => r.reason.includes('a concurrent invocation tripped it'))).toBe(true);
  expect(deps.published.filter((n) => n.attributes.severity === 'CRITICAL')).toHaveLength(1);
  expect(deps.published.filter((n) => n.attributes.severity === 'HIGH')).toHaveLength(LIMIT + OVER - 1);
}

describe('the circuit breaker under concurrent invocations', () => {
  it('pages the trip once with the memory store, when ten events over the limit are in flight at once', async () => {
    const store = memoryStateStore();

    const burst = await burstAgainst(store);

    expectOneTripPage(burst);
    expect(await store.breakerState('public-bucket')).toMatchObject({
      open: true,
      reason: expect.stringMatching(/^\d+ writes in 10 min exceed the limit of 3$/),
    });
  });

  describe('with the DynamoDB store', () => {
    const db = mockClient(DynamoDBClient);
    let table: Map<string, Record<string, AttributeValue>>;
    // Every call yields a turn of the event loop before it applies: the runs advance in lockstep, so all of them
    // read the breaker closed and all of them try to open it, as the invocations of one burst did.
    const tick = () => new Promise((resolve) => setImmediate(resolve));

    beforeEach(() => {
      table = new Map();
      db.reset();
      db.rejects(new Error('unexpected DynamoDB call'));
      // A small table that keeps DynamoDB's per-item atomicity: each call yields first, then applies at once.
      db.on(GetItemCommand).callsFake(async (input: GetItemCommandInput) => {
        await tick();
        const item = table.get(String(input.Key?.pk?.S));
        return item ? { Item: structuredClone(item) } : {};
      });
      db.on(UpdateItemCommand).callsFake(async (input: UpdateItemCommandInput) => {
        await tick();
        const pk = String(input.Key?.pk?.S);
        const total = Number(table.get(pk)?.total?.N ?? 0) + Number(input.ExpressionAttributeValues?.[':n']?.N);
        table.set(pk, { pk: { S: pk }, total: { N: String(total) } });
        return { Attributes: { total: { N: String(total) } } };
      });
      db.on(PutItemCommand).callsFake(async (input: PutItemCommandInput) => {
        await tick();
        const pk = String(input.Item?.pk?.S);
        if (input.ConditionExpression !== 'attribute_not_exists(pk)') throw new Error(`unexpected condition ${input.ConditionExpression}`);
        if (table.has(pk)) throw Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });
        table.set(pk, structuredClone(input.Item ?? {}));
        return {};
      });
    });
    afterEach(() => db.reset());

    it('opens the breaker with one conditional put that exactly one caller wins', async () => {
      const store = dynamoStateStore('trailguard-test-state', 'eu-west-1', undefined);

      const won = await Promise.all(Array.from({ length: OVER }, (_, i) => store.tripBreaker('public-bucket', 1_000 + i, `${LIMIT + 1 + i} writes`)));

      expect(won.filter(Boolean)).toHaveLength(1);
      expect(won.filter((w) => !w)).toHaveLength(OVER - 1);
      expect(db).toHaveReceivedCommandTimes(PutItemCommand, OVER);
      expect(db).toHaveReceivedCommandWith(PutItemCommand, {
        ConditionExpression: 'attribute_not_exists(pk)',
        Item: expect.objectContaining({ pk: { S: 'breaker#public-bucket' } }),
      });
    });

    it('pages the trip once when ten runs over the limit count and trip against the table at once', async () => {
      const dynamo = dynamoStateStore('trailguard-test-state', 'eu-west-1', undefined);
      // Claims stay in memory: this test is about the breaker's counter, state and trip, all on the table.
      const store: StateStore = {
        ...memoryStateStore(),
        addToWindow: dynamo.addToWindow,
        breakerState: dynamo.breakerState,
        tripBreaker: dynamo.tripBreaker,
        resetBreaker: dynamo.resetBreaker,
      };

      const burst = await burstAgainst(store);

      expectOneTripPage(burst);
      expect(table.get('breaker#public-bucket')).toMatchObject({ reason: { S: expect.stringMatching(/exceed the limit of 3$/) } });
      expect(db).toHaveReceivedCommandTimes(PutItemCommand, OVER);
    });
  });
});
