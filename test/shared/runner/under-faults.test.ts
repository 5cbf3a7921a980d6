import { GetTrailStatusCommand, StartLoggingCommand } from '@aws-sdk/client-cloudtrail';
import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { trailLogging } from '../../../functions/trail-logging/rule.js';
import { lambdaRunner } from '../../../shared/runner/lambda.js';
import { LOCK_WORK_BUDGET_MS, run } from '../../../shared/runner/run.js';
import { dynamoStateStore } from '../../../shared/state/dynamo-store.js';
import { memoryStateStore, type StateStore } from '../../../shared/state/store.js';
import { capturingDeps } from '../../helpers/samples.js';
import { cloudTrail, sdkError, STOPPED, trailArnIn, trailDouble } from '../../helpers/trail-double.js';

// Issue 22: what the runner does when a write's response is lost, a read-back is throttled, or several events
// on one resource are in flight at once. The trail is a small stateful double: StartLogging really starts it.
const db = mockClient(DynamoDBClient);

const ARN = trailArnIn();
/** The lock the runner takes for this trail: rule, account, home Region, name. */
const TRAIL_LOCK = 'trail-logging#111122223333#us-east-1#example-audit-trail';
/** Another StopLogging of the same trail (its own event id). */
const stopLogging = (id: string) => ({ ...STOPPED, id, detail: { ...STOPPED.detail, eventID: id } });

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

const liveDeps = (store: StateStore) => ({ ...capturingDeps({ mode: 'live' }), store });

describe('a write that landed but whose response was lost (item 1)', () => {
  it('is recorded and told by the retry: remediated, with the action and its previous state, one page', async () => {
    const trail = trailDouble();
    cloudTrail.on(StartLoggingCommand).callsFakeOnce(() => {
      trail.logging = true; // the write lands on AWS…
      throw sdkError('ECONNRESET'); // …and its response is lost on the way back
    });
    const store = memoryStateStore();
    const deps = liveDeps(store);
    const handler = lambdaRunner(trailLogging, () => deps);

    await expect(handler(STOPPED)).rejects.toMatchObject({ kind: 'transient', code: 'ECONNRESET' });
    const retried = await handler(STOPPED);

    expect(deps.written[0]).toMatchObject({ outcome: 'failed', error: { kind: 'transient' }, notification: { status: 'deferred' } });
    expect(retried).toMatchObject({
      outcome: 'remediated',
      severity: 'CRITICAL',
      finding: 'trail-stopped', // kept in the intent for the retry's record
      reason: expect.stringContaining('the write of an earlier try (2026-11-25T12:00:00.000Z) landed, this retry read it back'),
      resources: [{ type: 'AWS::CloudTrail::Trail' }],
      actions: [{ api: 'CloudTrail.StartLogging', status: 'done', params: { Name: ARN }, previous: { IsLogging: false }, verification: { ok: true } }],
      notification: { status: 'sent' },
    });
    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(1); // not written again
    expect(deps.published).toHaveLength(1);
    expect(deps.published[0]?.subject).toContain('Stopped trail example-audit-trail restarted');
    // Settled for good: a later redelivery is a duplicate of the remediation.
    expect(await run(trailLogging, STOPPED, deps)).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('already handled as remediated') });
  });

  it('decides afresh when the intended state is not there (the write never landed): writes, verifies, tells once', async () => {
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
    const store = memoryStateStore();
    const deps = liveDeps(store);

    const failed = await run(trailLogging, STOPPED, deps);
    const retried = await run(trailLogging, STOPPED, deps);

    expect(failed).toMatchObject({ outcome: 'failed', error: { kind: 'transient' } });
    expect(retried).toMatchObject({
      outcome: 'remediated',
      reason: expect.stringContaining('remediated and verified'),
      actions: [{ previous: { IsLogging: false } }],
    });
    expect(retried.reason).not.toContain('earlier try');
    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(2);
    expect(deps.published).toHaveLength(1);
  });

  it('keeps the intent across the Dynamo store: recorded in the claim before acting, kept when given back, read by the retry', async () => {
    const trail = trailDouble();
    cloudTrail.on(StartLoggingCommand).callsFakeOnce(() => {
      trail.logging = true;
      throw sdkError('TimeoutError');
    });
    // The claim item as DynamoDB keeps it, changed only by the store's own conditional updates.
    let claim: Record<string, AttributeValue> | undefined;
    const conditionFailed = () => Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });
    db.on(UpdateItemCommand).callsFake((input: { UpdateExpression: string; ExpressionAttributeValues: Record<string, AttributeValue> }) => {
      const values = input.ExpressionAttributeValues;
      if (input.UpdateExpression.startsWith('ADD')) return { Attributes: { total: { N: '1' } } }; // counters
      if (values[':lockedUntil']) {
        // claimEvent: free or given back, as the double holds it
        if (claim && claim.status?.S !== 'retryable') throw conditionFailed();
        const old = claim;
        claim = { ...old, status: { S: 'in-progress' }, claimToken: values[':token'] as AttributeValue };
        return old ? { Attributes: old } : {};
      }
      if (claim?.claimToken?.S !== values[':token']?.S) throw conditionFailed();
      if (values[':intent'])
        claim = { ...claim, intent: values[':intent'] as AttributeValue }; // recordIntent
      else if (values[':retryable'])
        claim = { ...claim, status: { S: 'retryable' } }; // releaseEvent keeps the intent
      else if (values[':done']) claim = { ...claim, status: { S: 'done' }, outcome: values[':outcome'] as AttributeValue }; // concludeEvent
      return {};
    });
    // Resource locks and fix markers, as put; the breaker item is never put, so it reads closed.
    const items = new Map<string, Record<string, AttributeValue>>();
    db.on(PutItemCommand).callsFake((input: { Item: Record<string, AttributeValue> }) => {
      items.set(String(input.Item.pk?.S), input.Item);
      return {};
    });
    db.on(DeleteItemCommand).resolves({});
    db.on(GetItemCommand).callsFake((input: { Key: { pk: { S: string } } }) => {
      const item = items.get(input.Key.pk.S);
      return item ? { Item: item } : {};
    });
    const deps = liveDeps(dynamoStateStore('trailguard-test-state', 'us-east-1', undefined));

    const failed = await run(trailLogging, STOPPED, deps);
    expect(JSON.parse(claim?.intent?.S ?? '{}')).toMatchObject({
      actions: [{ api: 'CloudTrail.StartLogging', previous: { IsLogging: false } }],
      severity: 'CRITICAL',
    });
    const retried = await run(trailLogging, STOPPED, deps);

    expect(failed).toMatchObject({ outcome: 'failed', error: { kind: 'transient', code: 'TimeoutError' }, notification: { status: 'deferred' } });
    expect(retried).toMatchObject({ outcome: 'remediated', actions: [{ status: 'done', previous: { IsLogging: false } }], notification: { status: 'sent' } });
    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(1);
    expect(deps.published).toHaveLength(1);
    expect(claim).toMatchObject({ status: { S: 'done' }, outcome: { S: 'remediated' } });
  });
});

describe('a read-back after a successful write (item 2)', () => {
  it('that is throttled is transient: the retry verifies without writing again, and tells once', async () => {
    const trail = trailDouble();
    cloudTrail
      .on(GetTrailStatusCommand)
      .callsFakeOnce(() => ({ IsLogging: trail.logging })) // inspect
      .callsFakeOnce(() => {
        throw sdkError('ThrottlingException', 400); // the read-back
      })
      .callsFake(() => ({ IsLogging: trail.logging }));
    const store = memoryStateStore();
    const deps = liveDeps(store);
    const handler = lambdaRunner(trailLogging, () => deps);

    await expect(handler(STOPPED)).rejects.toMatchObject({ kind: 'transient', code: 'ThrottlingException' });
    const retried = await handler(STOPPED);

    expect(deps.written[0]).toMatchObject({
      outcome: 'failed',
      error: { kind: 'transient', code: 'ThrottlingException' },
      notification: { status: 'deferred' },
      reason: expect.stringContaining('acted, but the read-back could not be made (ThrottlingException): the retry verifies'),
      actions: [{ status: 'done', verification: { ok: false, detail: 'the read-back could not be made: ThrottlingException' } }],
    });
    expect(retried).toMatchObject({ outcome: 'remediated', actions: [{ previous: { IsLogging: false }, verification: { ok: true } }] });
    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(1);
    expect(deps.published).toHaveLength(1);
  });

  it('that shows the wrong state is failed for good: told now, not retried', async () => {
    trailDouble();
    cloudTrail.on(StartLoggingCommand).resolves({}); // accepted, yet the trail stays stopped
    const store = memoryStateStore();
    const deps = liveDeps(store);

    const first = await run(trailLogging, STOPPED, deps);
    const again = await run(trailLogging, STOPPED, deps);

    expect(first).toMatchObject({
      outcome: 'failed',
      error: null,
      notification: { status: 'sent' },
      reason: expect.stringContaining('acted, but verification failed: GetTrailStatus still reads IsLogging: false'),
    });
    expect(again).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('already handled as failed') });
    expect(deps.published).toHaveLength(1);
  });
});

describe('concurrent events on one resource (item 4)', () => {
  it('act once: one remediated and paged, the others read the restarted trail and end compliant', async () => {
    trailDouble({ readDelayMs: 30 }); // every inspect is still in flight when the next event starts
    const deps = liveDeps(memoryStateStore());

    const records = await Promise.all(['stop-1', 'stop-2', 'stop-3', 'stop-4', 'stop-5'].map((id) => run(trailLogging, stopLogging(id), deps)));

    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(1);
    expect(records.map((r) => r.outcome).sort()).toEqual(['compliant', 'compliant', 'compliant', 'compliant', 'remediated']);
    expect(deps.published).toHaveLength(1);
    expect(deps.published[0]?.attributes.severity).toBe('CRITICAL');
  });

  it('retries, never drops or acts on, an event whose resource stays locked until its deadline less its work budget', async () => {
    trailDouble();
    const store = memoryStateStore();
    // 300 ms of this invocation's time are left for waiting: the rest is its work budget under the lock.
    const deps = { ...liveDeps(store), deadline: Date.parse('2026-11-25T12:00:00Z') + LOCK_WORK_BUDGET_MS + 300 };
    // Another invocation is deciding on the trail (account, Region and name) and does not finish within the wait.
    await store.lockResource(TRAIL_LOCK, 'another-invocation', deps.now(), 90_000);
    const waitStarted = Date.now();

    const blocked = await run(trailLogging, STOPPED, deps);

    expect(Date.now() - waitStarted).toBeGreaterThanOrEqual(250);
    expect(blocked).toMatchObject({
      outcome: 'failed',
      error: { kind: 'transient', code: 'ResourceLocked' },
      notification: { status: 'deferred' },
      reason: expect.stringContaining('its lock holds until 2026-11-25T12:01:30.000Z'),
    });
    expect(cloudTrail.commandCalls(GetTrailStatusCommand)).toHaveLength(0);
    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(0);
    // Once the other is done, the retry decides.
    await store.unlockResource(TRAIL_LOCK, 'another-invocation');
    expect((await run(trailLogging, STOPPED, deps)).outcome).toBe('remediated');
    expect(store.items.has(`lock#${TRAIL_LOCK}`)).toBe(false); // freed after verify
  });

  it('takes no lock in dry-run (nothing writes)', async () => {
    trailDouble({ readDelayMs: 10 });
    const store = memoryStateStore();
    const deps = { ...capturingDeps({ mode: 'dry-run' }), store };
    await store.lockResource(TRAIL_LOCK, 'another-invocation', deps.now(), 90_000);

    const record = await run(trailLogging, STOPPED, deps);

    expect(record.outcome).toBe('would-remediate');
    expect(cloudTrail.commandCalls(GetTrailStatusCommand)).toHaveLength(1);
  });
});

describe('a try that could not give its claim back (its give-back failed)', () => {
  /** The memory store, whose give-back fails: the claim stays in progress under the try's lock. */
  const storeFailingRelease = () => {
    const store = memoryStateStore();
    return Object.assign(store, {
      releaseEvent: async () => {
        throw sdkError('ThrottlingException', 400);
      },
    });
  };
  /** A Lambda context: the request id (kept by Lambda's retries of one invocation) and 30 s left. */
  const context = (awsRequestId: string) => ({ awsRequestId, getRemainingTimeInMillis: () => 30_000 });

  it("is taken over at once by Lambda's retry of the same invocation (same request id), which records and tells the landed fix", async () => {
    const trail = trailDouble();
    cloudTrail.on(StartLoggingCommand).callsFakeOnce(() => {
      trail.logging = true;
      throw sdkError('ECONNRESET');
    });
    const deps = liveDeps(storeFailingRelease());
    const handler = lambdaRunner(trailLogging, () => deps);

    await expect(handler(STOPPED, context('req-1'))).rejects.toMatchObject({ kind: 'transient', code: 'ECONNRESET' });
    // Another delivery of the event (EventBridge's at-least-once: its own request id) still waits for the lock.
    await expect(handler(STOPPED, context('req-2'))).rejects.toMatchObject({ code: 'ClaimInProgress' });
    const retried = await handler(STOPPED, context('req-1'));

    expect(retried).toMatchObject({
      outcome: 'remediated',
      reason: expect.stringContaining('the write of an earlier try'),
      actions: [{ api: 'CloudTrail.StartLogging', previous: { IsLogging: false }, verification: { ok: true } }],
    });
    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(1);
    expect(deps.published).toHaveLength(1);
  });

  it('without a request id (replay, the CLI) waits for the lock to lapse, as before', async () => {
    const trail = trailDouble();
    cloudTrail.on(StartLoggingCommand).callsFakeOnce(() => {
      trail.logging = true;
      throw sdkError('ECONNRESET');
    });
    const deps = liveDeps(storeFailingRelease());
    const handler = lambdaRunner(trailLogging, () => deps);

    await expect(handler(STOPPED, context('req-1'))).rejects.toMatchObject({ code: 'ECONNRESET' });
    await expect(handler(STOPPED, { getRemainingTimeInMillis: () => 30_000 })).rejects.toMatchObject({ code: 'ClaimInProgress' });
    expect(deps.published).toHaveLength(0);
  });
});
