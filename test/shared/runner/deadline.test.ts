import { GetPublicAccessBlockCommand, PutPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { publicBucket } from '../../../functions/public-bucket/rule.js';
import { parseConfig } from '../../../shared/config.js';
import { wrapRecord } from '../../../shared/events/schema.js';
import { violation, type AnyRule } from '../../../shared/rule.js';
import { DEADLINE_MARGIN_MS } from '../../../shared/runner/deadline.js';
import { lambdaRunner, lambdaScheduledRunner, type ScheduledInputReader } from '../../../shared/runner/lambda.js';
import { sweepHandler } from '../../../shared/runner/sweep-lambda.js';
import type { Sweep } from '../../../shared/runner/sweep.js';
import { memoryStateStore } from '../../../shared/state/store.js';
import { testAction } from '../../helpers/actions.js';
import { capturingDeps, loadSample } from '../../helpers/samples.js';

// Issue 22, item 5: every invocation gets a deadline from the Lambda context (remaining time less the margin).
// aws-sdk-client-mock replaces send, so the client guard cannot act here (test/shared/aws/deadline.test.ts
// proves it on a real client); these prove the runner's backstop and the adapters' wiring.

const s3 = mockClient(S3Client);
beforeEach(() => {
  s3.reset();
  s3.rejects(new Error('unexpected S3 call'));
});
afterEach(() => s3.reset());

const context = (remainingMs: number) => ({
  getRemainingTimeInMillis: () => remainingMs,
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:trailguard-dev-x',
});
const never = () => new Promise<never>(() => undefined);
const config = parseConfig({});

/** A rule that always plans one write per resource; `act` is the spy its action type performs with. */
function writingRule(inspect: () => Promise<unknown> = async () => ({})) {
  const act = vi.fn(async () => undefined);
  const rule = {
    id: 'public-bucket',
    pattern: { source: ['aws.s3'] },
    permissions: {},
    settings: () => ({ enabled: true }),
    clients: () => ({}),
    parse: ({ record }) => ({ resources: [{ type: 'AWS::S3::Bucket', id: String((record.requestParameters as { bucketName: string }).bucketName) }] }),
    inspect: vi.fn(inspect),
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

const eventFor = (id: string) =>
  wrapRecord({
    eventTime: '2026-11-20T09:15:00Z',
    eventSource: 's3.amazonaws.com',
    eventName: 'PutBucketAcl',
    awsRegion: 'eu-west-1',
    eventID: id,
    recipientAccountId: '111122223333',
    userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/alice' },
    requestParameters: { bucketName: `example-${id}` },
  });

describe('an invocation that would outrun its timeout', () => {
  it('ends at the deadline while a (mocked) S3 read never answers: transient record, claim given back, thrown', async () => {
    s3.on(GetPublicAccessBlockCommand).callsFake(never);
    const store = memoryStateStore();
    const deps = { ...capturingDeps({ mode: 'live' }), store };
    const base = loadSample('public-bucket', 'would-remediate.delete-public-access-block') as Record<string, unknown>;
    const event = wrapRecord({ ...base, eventID: 'slow-1' });
    const remainingMs = DEADLINE_MARGIN_MS + 200;
    const started = Date.now();

    await expect(lambdaRunner(publicBucket, () => deps)(event, context(remainingMs))).rejects.toMatchObject({
      name: 'AwsCallError',
      kind: 'transient',
      code: 'DeadlineExceeded',
    });

    expect(Date.now() - started).toBeLessThan(remainingMs);
    expect(s3).toHaveReceivedCommandTimes(GetPublicAccessBlockCommand, 1);
    expect(s3).toHaveReceivedCommandTimes(PutPublicAccessBlockCommand, 0);
    expect(deps.written).toEqual([
      expect.objectContaining({
        outcome: 'failed',
        eventId: 'slow-1',
        error: expect.objectContaining({ kind: 'transient', code: 'DeadlineExceeded' }),
        notification: { status: 'deferred', reason: expect.any(String) },
      }),
    ]);
    expect(await store.claimEvent('public-bucket#slow-1', deps.now(), 1_000, 3_600_000)).toMatchObject({ kind: 'claimed' });
  });

  it("finishes normally when the work fits: no deadline error, the record is the rule's", async () => {
    const { rule, act } = writingRule();
    const deps = { ...capturingDeps({ mode: 'live', config }), store: memoryStateStore() };

    const record = await lambdaRunner(rule, () => deps)(eventFor('fits-1'), context(DEADLINE_MARGIN_MS + 5_000));

    expect(record).toMatchObject({ outcome: 'remediated', error: null });
    expect(act).toHaveBeenCalledTimes(1);
  });

  it("holds the claim for the invocation's remaining time (as Powertools idempotency does), 90 s without a Lambda context", async () => {
    const store = memoryStateStore();
    const claimEvent = vi.spyOn(store, 'claimEvent');
    const deps = { ...capturingDeps({ mode: 'live', config }), store };
    const handler = lambdaRunner(writingRule().rule, () => deps);

    await handler(eventFor('lock-1'), context(12_345));
    await handler(eventFor('lock-2'), context(29_000));
    await handler(eventFor('lock-3'));
    await handler(eventFor('lock-4'), {}); // a local invocation's bare context

    expect(claimEvent).toHaveBeenCalledTimes(4);
    expect(claimEvent.mock.calls.map(([key, , lockMs]) => [key, lockMs])).toEqual([
      ['public-bucket#lock-1', 12_345],
      ['public-bucket#lock-2', 29_000],
      ['public-bucket#lock-3', 90_000],
      ['public-bucket#lock-4', 90_000],
    ]);
  });

  it('gives the scheduled enforcement check the same deadline', async () => {
    const { rule, act } = writingRule(never);
    const deps = { ...capturingDeps({ mode: 'live', config }), store: memoryStateStore() };
    const where = { account: '111122223333', region: 'eu-west-1' };
    const reader: ScheduledInputReader = {
      read: () => ({ trigger: 'schedule', id: 'enforce-1', ...where, facts: { resources: [{ type: 'AWS::EC2::Instance', id: 'i-0123456789abcdef0' }] } }),
      unreadable: () => ({ trigger: 'schedule', id: 'unreadable', ...where, facts: { resources: [] } }),
    };
    const started = Date.now();

    await expect(lambdaScheduledRunner(rule, reader, () => deps)({}, context(DEADLINE_MARGIN_MS + 200))).rejects.toMatchObject({
      kind: 'transient',
      code: 'DeadlineExceeded',
    });

    expect(Date.now() - started).toBeLessThan(DEADLINE_MARGIN_MS + 200);
    expect(rule.inspect).toHaveBeenCalledTimes(1);
    expect(act).not.toHaveBeenCalled();
    expect(deps.written).toEqual([
      expect.objectContaining({ trigger: 'schedule', eventId: 'enforce-1', outcome: 'failed', error: expect.objectContaining({ kind: 'transient' }) }),
    ]);
  });

  it("ends a sweep's finding at the invocation's deadline, with its record, inside the function timeout", async () => {
    const { rule } = writingRule(never);
    const sweep: Sweep<typeof rule, { resources: { type: string; id: string }[] }, object> = {
      rule,
      permissions: {},
      clients: () => ({}),
      async *scan() {
        yield { kind: 'finding', resource: 'example-legacy', facts: { resources: [{ type: 'AWS::S3::Bucket', id: 'example-legacy' }] } };
      },
    };
    const deps = { ...capturingDeps({ mode: 'live', config }), store: memoryStateStore() };
    const started = Date.now();

    const summary = await sweepHandler(sweep, () => deps)({ time: '2026-11-25T12:00:00Z' }, context(DEADLINE_MARGIN_MS + 200));

    expect(Date.now() - started).toBeLessThan(DEADLINE_MARGIN_MS + 200);
    expect(summary).toMatchObject({ findings: 1, outcomes: { failed: 1 } });
    expect(deps.written).toEqual([
      expect.objectContaining({ trigger: 'sweep', outcome: 'failed', error: expect.objectContaining({ code: 'DeadlineExceeded' }) }),
    ]);
  });
});
