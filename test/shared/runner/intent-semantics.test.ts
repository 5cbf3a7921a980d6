import { StartLoggingCommand } from '@aws-sdk/client-cloudtrail';
import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type DeleteItemCommandInput,
  type GetItemCommandInput,
  type PutItemCommandInput,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { trailLogging } from '../../../functions/trail-logging/rule.js';
import { violation, type AnyRule, type PlannedAction } from '../../../shared/rule.js';
import { run } from '../../../shared/runner/run.js';
import { dynamoStateStore } from '../../../shared/state/dynamo-store.js';
import { memoryStateStore, type StateStore } from '../../../shared/state/store.js';
import { testAction } from '../../helpers/actions.js';
import { capturingDeps } from '../../helpers/samples.js';
import { holds, updated, type Item } from '../../helpers/table-conditions.js';
import { cloudTrail, sdkError, STOPPED, trailDouble } from '../../helpers/trail-double.js';

// Review of issue 22, findings 1, 2 and 7: what an intent in a claim may stand for. A retry must never take
// another invocation's fix for its own (and page it again), a run that concluded must not be paged again on
// redelivery, and a half-done try's first actions stay in the record. Each scenario runs against the memory store
// and against the DynamoDB store on a small table double that applies the store's conditions and expressions.
const db = mockClient(DynamoDBClient);

const NOW = Date.parse('2026-11-25T12:00:00Z');
/** A StopLogging of the example trail with its own event id. */
const stopLogging = (id: string) => ({ ...STOPPED, id, detail: { ...STOPPED.detail, eventID: id } });

const conditionFailed = (item: Item | undefined, returnOld: boolean) =>
  Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException', ...(returnOld && item ? { Item: item } : {}) });

/** A table double behind the mocked DynamoDB client; `failing()` true makes every call fail (throttled). */
function tableDouble(failing: () => boolean = () => false) {
  const table = new Map<string, Item>();
  const throttled = () => sdkError('ProvisionedThroughputExceededException', 400);
  db.on(GetItemCommand).callsFake((input: GetItemCommandInput) => {
    if (failing()) throw throttled();
    const item = table.get(String(input.Key?.pk?.S));
    return item ? { Item: structuredClone(item) } : {};
  });
  db.on(PutItemCommand).callsFake((input: PutItemCommandInput) => {
    if (failing()) throw throttled();
    const pk = String(input.Item?.pk?.S);
    const old = table.get(pk);
    if (!holds(input.ConditionExpression, old, input.ExpressionAttributeValues ?? {}))
      throw conditionFailed(old, input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD');
    table.set(pk, structuredClone(input.Item ?? {}));
    return {};
  });
  db.on(UpdateItemCommand).callsFake((input: UpdateItemCommandInput) => {
    if (failing()) throw throttled();
    const pk = String(input.Key?.pk?.S);
    const old = table.get(pk);
    if (!holds(input.ConditionExpression, old, input.ExpressionAttributeValues ?? {}))
      throw conditionFailed(old, input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD');
    const item = updated(old, input);
    table.set(pk, item);
    if (input.ReturnValues === 'ALL_OLD') return old ? { Attributes: structuredClone(old) } : {};
    return input.ReturnValues === 'ALL_NEW' ? { Attributes: structuredClone(item) } : {};
  });
  db.on(DeleteItemCommand).callsFake((input: DeleteItemCommandInput) => {
    if (failing()) throw throttled();
    const pk = String(input.Key?.pk?.S);
    const old = table.get(pk);
    if (!holds(input.ConditionExpression, old, input.ExpressionAttributeValues ?? {})) throw conditionFailed(old, false);
    table.delete(pk);
    return {};
  });
  return table;
}

/** Each scenario runs on both stores: `failing` makes the store's calls fail from then on. */
const STORES: readonly [string, (failing?: () => boolean) => StateStore][] = [
  [
    'the memory store',
    (failing = () => false) => {
      const memory = memoryStateStore();
      // Every method of the store fails (throttled) while `failing()` holds.
      return Object.fromEntries(
        Object.entries(memory).map(([name, value]) => [
          name,
          typeof value === 'function'
            ? (...args: unknown[]) =>
                failing() ? Promise.reject(sdkError('ProvisionedThroughputExceededException', 400)) : (value as (...a: unknown[]) => unknown)(...args)
            : value,
        ]),
      ) as unknown as StateStore;
    },
  ],
  [
    'the DynamoDB store',
    (failing) => {
      tableDouble(failing);
      return dynamoStateStore('trailguard-test-state', 'us-east-1', undefined);
    },
  ],
];

beforeEach(() => {
  cloudTrail.reset();
  cloudTrail.rejects(new Error('unexpected CloudTrail call'));
  db.reset();
  db.rejects(new Error('unexpected DynamoDB call'));
});
afterEach(() => {
  cloudTrail.reset();
  db.reset();
});

describe.each(STORES)("a retry never claims or pages another invocation's fix (finding 1), with %s", (_, storeOf) => {
  it('a throttled write left nothing to read back: the retry decides afresh and finds the trail another event restarted', async () => {
    const trail = trailDouble();
    cloudTrail
      .on(StartLoggingCommand)
      .callsFakeOnce(() => {
        throw sdkError('ThrottlingException', 400); // refused: nothing landed
      })
      .callsFake(() => {
        trail.logging = true;
        return {};
      });
    const deps = { ...capturingDeps({ mode: 'live' }), store: storeOf() };

    const refused = await run(trailLogging, stopLogging('evt-A'), deps);
    trail.logging = false; // stopped again in the meantime
    const other = await run(trailLogging, stopLogging('evt-B'), deps);
    const retried = await run(trailLogging, stopLogging('evt-A'), deps);

    expect(refused).toMatchObject({ outcome: 'failed', error: { kind: 'transient', code: 'ThrottlingException' }, notification: { status: 'deferred' } });
    expect(other).toMatchObject({ outcome: 'remediated', notification: { status: 'sent' } });
    expect(retried).toMatchObject({ outcome: 'compliant', notification: { status: 'not-needed' }, reason: expect.stringContaining('is logging again') });
    expect(retried.reason).not.toContain('earlier try');
    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(2);
    expect(deps.published).toHaveLength(1);
  });

  it('a throttled write gives the claim back without its intent: a trail restarted by hand is not taken for its fix', async () => {
    const trail = trailDouble();
    cloudTrail.on(StartLoggingCommand).callsFakeOnce(() => {
      throw sdkError('ThrottlingException', 400);
    });
    const deps = { ...capturingDeps({ mode: 'live' }), store: storeOf() };

    const refused = await run(trailLogging, stopLogging('evt-A'), deps);
    trail.logging = true; // an operator restarted it; no trailguard run acted on it
    const retried = await run(trailLogging, stopLogging('evt-A'), deps);

    expect(refused).toMatchObject({ outcome: 'failed', error: { kind: 'transient', code: 'ThrottlingException' } });
    expect(retried).toMatchObject({ outcome: 'compliant', notification: { status: 'not-needed' }, reason: expect.stringContaining('is logging again') });
    expect(retried.actions).toEqual([]);
    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(1);
    expect(deps.published).toHaveLength(0);
  });

  it("an ambiguous write that never landed is superseded by another event's fix: the retry does not page it again", async () => {
    const trail = trailDouble();
    cloudTrail
      .on(StartLoggingCommand)
      .callsFakeOnce(() => {
        throw sdkError('ECONNRESET'); // may have landed (it did not): the intent is kept
      })
      .callsFake(() => {
        trail.logging = true;
        return {};
      });
    const deps = { ...capturingDeps({ mode: 'live' }), store: storeOf() };

    const lost = await run(trailLogging, stopLogging('evt-A'), deps);
    const other = await run(trailLogging, stopLogging('evt-B'), deps); // acts on the trail after A's intent
    const retried = await run(trailLogging, stopLogging('evt-A'), deps);

    expect(lost).toMatchObject({ outcome: 'failed', error: { kind: 'transient', code: 'ECONNRESET' }, notification: { status: 'deferred' } });
    expect(other).toMatchObject({ outcome: 'remediated', notification: { status: 'sent' } });
    expect(retried).toMatchObject({ outcome: 'compliant', notification: { status: 'not-needed' } });
    expect(retried.reason).not.toContain('earlier try');
    expect(deps.published).toHaveLength(1);
    expect(deps.published[0]?.subject).toContain('Stopped trail example-audit-trail restarted');
  });

  it('an ambiguous write that landed is still recorded and told once by the retry, with its previous state', async () => {
    const trail = trailDouble();
    cloudTrail.on(StartLoggingCommand).callsFakeOnce(() => {
      trail.logging = true; // landed…
      throw sdkError('TimeoutError'); // …response lost
    });
    const deps = { ...capturingDeps({ mode: 'live' }), store: storeOf() };

    await run(trailLogging, stopLogging('evt-A'), deps);
    const other = await run(trailLogging, stopLogging('evt-B'), deps); // reads the trail logging: no act, no marker
    const retried = await run(trailLogging, stopLogging('evt-A'), deps);

    expect(other).toMatchObject({ outcome: 'compliant' });
    expect(retried).toMatchObject({
      outcome: 'remediated',
      reason: expect.stringContaining('the write of an earlier try (2026-11-25T12:00:00.000Z) landed'),
      actions: [{ api: 'CloudTrail.StartLogging', status: 'done', previous: { IsLogging: false }, verification: { ok: true } }],
      notification: { status: 'sent' },
    });
    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(1);
    expect(deps.published).toHaveLength(1);
  });
});

describe.each(STORES)('a concluded run is not paged again (finding 2), with %s', (_, storeOf) => {
  it('settles its claim before paging: a store that fails from the page on cannot make a redelivery page again', async () => {
    trailDouble();
    let clock = NOW;
    const base = capturingDeps({ mode: 'live' });
    const store = storeOf(() => base.published.length > 0);

    const first = await run(trailLogging, stopLogging('evt-C'), { ...base, now: () => clock, store });
    clock += 120_000; // any claim lock (90 s without a deadline) has lapsed: EventBridge redelivers the event
    base.published.length = 0; // the store works again, and the redelivery's page would be counted
    const redelivered = await run(trailLogging, stopLogging('evt-C'), { ...base, now: () => clock, store });

    expect(first).toMatchObject({ outcome: 'remediated', notification: { status: 'sent' } });
    expect(redelivered).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('already handled as remediated') });
    expect(base.published).toHaveLength(0);
    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(1);
  });

  it('retries a settle that fails once, then pages once', async () => {
    trailDouble();
    const deps = capturingDeps({ mode: 'live' });
    const store = storeOf();
    const concludeEvent = vi.fn(store.concludeEvent).mockRejectedValueOnce(sdkError('ProvisionedThroughputExceededException', 400));
    const settling: StateStore = { ...store, concludeEvent };

    const record = await run(trailLogging, stopLogging('evt-D'), { ...deps, store: settling });
    const again = await run(trailLogging, stopLogging('evt-D'), { ...deps, store: settling });

    expect(concludeEvent).toHaveBeenCalledTimes(2);
    expect(record).toMatchObject({ outcome: 'remediated', notification: { status: 'sent' } });
    expect(again).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('already handled as remediated') });
    expect(deps.published).toHaveLength(1);
  });
});

describe('a run whose lapsed claim another invocation took over (finding 2)', () => {
  it('does not tell: the taker records and tells the event', async () => {
    const trail = trailDouble();
    const store = memoryStateStore();
    cloudTrail.on(StartLoggingCommand).callsFake(() => {
      trail.logging = true;
      // Meanwhile this run's claim lapsed and a redelivery took it over.
      const claim = store.items.get('event#trail-logging#evt-E');
      store.items.set('event#trail-logging#evt-E', { ...claim, token: 'another-invocation' });
      return {};
    });
    const deps = { ...capturingDeps({ mode: 'live' }), store };

    const record = await run(trailLogging, stopLogging('evt-E'), deps);

    expect(record).toMatchObject({
      outcome: 'remediated',
      notification: { status: 'skipped', reason: expect.stringContaining('another invocation took it over: that one records and tells this event') },
    });
    expect(deps.published).toHaveLength(0);
    expect(store.items.get('event#trail-logging#evt-E')).toMatchObject({ status: 'in-progress', token: 'another-invocation' }); // the taker's
  });
});

/** A group with two world-open rules, each revoked by its own action: a double that `act` (the action type's perform) really changes. */
function twoRuleRule(group: { ssh: boolean; rdp: boolean }, act: (action: PlannedAction) => Promise<void>) {
  const resource = { type: 'AWS::EC2::SecurityGroup', id: 'sg-0123456789abcdef0' };
  const revoke = (port: 'ssh' | 'rdp'): PlannedAction => ({
    api: 'EC2.RevokeSecurityGroupIngress',
    resource,
    params: { GroupId: resource.id, port },
    previous: { [port]: 'open to the world' },
  });
  return {
    id: 'open-security-group',
    pattern: { source: ['aws.ec2'] },
    permissions: { 'EC2.RevokeSecurityGroupIngress': 'ec2:RevokeSecurityGroupIngress' },
    settings: () => ({ enabled: true }),
    clients: () => ({}),
    parse: () => ({ resources: [resource] }),
    inspect: async () => ({ ...group }),
    decide: (_facts: unknown, state: { ssh: boolean; rdp: boolean } | undefined) =>
      violation(
        'sg-0123456789abcdef0 is open to the world',
        'HIGH',
        [resource],
        [...(state?.ssh ? [revoke('ssh')] : []), ...(state?.rdp ? [revoke('rdp')] : [])],
      ),
    actions: [
      testAction('EC2.RevokeSecurityGroupIngress', {
        perform: (_params, _clients, step) => act(step),
        verify: async (params) => {
          const port = (params as { port: 'ssh' | 'rdp' }).port;
          return { ok: !group[port], detail: `${port} is ${group[port] ? 'open' : 'closed'}` };
        },
      }),
    ],
    message: () => ({ title: 'closed', lines: [] }),
  } satisfies AnyRule;
}

const openedEvent = {
  version: '0',
  id: 'evt-sg',
  'detail-type': 'AWS API Call via CloudTrail',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2026-11-25T11:59:00Z',
  region: 'eu-west-1',
  resources: [],
  detail: {
    eventVersion: '1.08',
    eventTime: '2026-11-25T11:59:00Z',
    eventSource: 'ec2.amazonaws.com',
    eventName: 'AuthorizeSecurityGroupIngress',
    awsRegion: 'eu-west-1',
    eventID: 'evt-sg',
    recipientAccountId: '111122223333',
    sourceIPAddress: '198.51.100.7',
    userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333' },
    requestParameters: { groupId: 'sg-0123456789abcdef0' },
  },
};

describe.each(STORES)('the retry of a half-done try keeps what the first try did (finding 7), with %s', (_, storeOf) => {
  it('records both actions with their previous state, though each try did one of them', async () => {
    const group = { ssh: true, rdp: true };
    const attempts: string[] = [];
    const rule = twoRuleRule(group, async (action) => {
      const port = (action.params as { port: 'ssh' | 'rdp' }).port;
      attempts.push(port);
      if (port === 'rdp' && attempts.length === 2) throw sdkError('RequestLimitExceeded', 400); // try 1: ssh done, rdp refused
      group[port] = false;
      if (port === 'rdp' && attempts.length === 3) throw sdkError('ECONNRESET'); // try 2: rdp landed, response lost
    });
    const deps = { ...capturingDeps({ mode: 'live' }), store: storeOf() };

    const halfDone = await run(rule, openedEvent, deps);
    const lost = await run(rule, openedEvent, deps);
    const retried = await run(rule, openedEvent, deps);

    expect(halfDone).toMatchObject({ outcome: 'failed', error: { kind: 'transient' }, reason: expect.stringContaining('half done: 1 of 2 actions done') });
    expect(lost).toMatchObject({
      outcome: 'failed',
      error: { kind: 'transient', code: 'ECONNRESET' },
      reason: expect.stringContaining('half done: 1 of 2 actions done'),
    });
    expect(retried).toMatchObject({
      outcome: 'remediated',
      notification: { status: 'sent' },
      actions: [
        { status: 'done', params: { port: 'ssh' }, previous: { ssh: 'open to the world' }, verification: { ok: true } },
        { status: 'done', params: { port: 'rdp' }, previous: { rdp: 'open to the world' }, verification: { ok: true } },
      ],
    });
    expect(attempts).toEqual(['ssh', 'rdp', 'rdp']); // ssh was never revoked twice
    expect(deps.published).toHaveLength(1);
  });

  it("acts only on what is left, and its remediated record leads with the earlier try's action", async () => {
    const group = { ssh: true, rdp: true };
    const attempts: string[] = [];
    const rule = twoRuleRule(group, async (action) => {
      const port = (action.params as { port: 'ssh' | 'rdp' }).port;
      attempts.push(port);
      if (port === 'rdp' && attempts.length === 2) throw sdkError('RequestLimitExceeded', 400);
      group[port] = false;
    });
    const deps = { ...capturingDeps({ mode: 'live' }), store: storeOf() };

    await run(rule, openedEvent, deps);
    const retried = await run(rule, openedEvent, deps);

    expect(retried).toMatchObject({
      outcome: 'remediated',
      reason: expect.stringContaining('remediated and verified (1 of 2 actions done by an earlier try)'),
      actions: [
        { params: { port: 'ssh' }, previous: { ssh: 'open to the world' } },
        { params: { port: 'rdp' }, previous: { rdp: 'open to the world' } },
      ],
    });
    expect(attempts).toEqual(['ssh', 'rdp', 'rdp']);
    expect(deps.published).toHaveLength(1);
  });
});
