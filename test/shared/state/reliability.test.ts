import { describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../../shared/config.js';
import { wrapRecord } from '../../../shared/events/schema.js';
import { violation, type AnyRule } from '../../../shared/rule.js';
import { run, runFinding } from '../../../shared/runner/run.js';
import { sweepFinding } from '../../../shared/runner/sweep.js';
import { memoryStateStore } from '../../../shared/state/store.js';
import { testAction } from '../../helpers/actions.js';
import { capturingDeps } from '../../helpers/samples.js';

/** A rule that plans one write per resource; `act` is the spy its action type performs with. */
function writingRule() {
  const act = vi.fn(async (_params: unknown) => undefined);
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

const eventFor = (id: string, bucket = `example-${id}`) =>
  wrapRecord({
    eventTime: '2026-11-20T09:15:00Z',
    eventSource: 's3.amazonaws.com',
    eventName: 'PutBucketAcl',
    awsRegion: 'eu-west-1',
    eventID: id,
    recipientAccountId: '111122223333',
    userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/alice' },
    requestParameters: { bucketName: bucket },
  });

describe('duplicates (idempotency on the event id)', () => {
  it('acts and notifies once for the same event delivered twice, and logs the duplicate', async () => {
    const store = memoryStateStore();
    const { rule, act } = writingRule();
    const deps = capturingDeps({ mode: 'live', config: parseConfig({}) });
    const first = await run(rule, eventFor('e-1'), { ...deps, store });
    const second = await run(rule, eventFor('e-1'), { ...deps, store });
    expect(first.outcome).toBe('remediated');
    expect(second).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/^duplicate delivery of event e-1: already handled as remediated at /) });
    expect(act).toHaveBeenCalledTimes(1);
    expect(deps.published).toHaveLength(1);
    expect(deps.written).toHaveLength(2);
  });

  it('retries, never drops, a delivery while another invocation holds the claim (it may have timed out)', async () => {
    const store = memoryStateStore();
    const { rule, act } = writingRule();
    const deps = { ...capturingDeps({ mode: 'live', config: parseConfig({}) }), store };
    // The first invocation claimed the event, then timed out before settling: its lock is still held.
    await store.claimEvent('public-bucket#e-4', deps.now(), 90_000, 3_600_000);
    const meanwhile = await run(rule, eventFor('e-4'), deps);
    expect(meanwhile).toMatchObject({ outcome: 'failed', error: { kind: 'transient', code: 'ClaimInProgress' } });
    expect(act).not.toHaveBeenCalled();
    // Once the lock lapses, the retry acts.
    const later = await run(rule, eventFor('e-4'), { ...deps, now: () => deps.now() + 91_000 });
    expect(later.outcome).toBe('remediated');
    expect(act).toHaveBeenCalledTimes(1);
  });

  it('gives the claim back after a transient failure, so the retry acts', async () => {
    const store = memoryStateStore();
    const { rule, act } = writingRule();
    act.mockRejectedValueOnce(Object.assign(new Error('slow'), { name: 'ThrottlingException' }));
    const deps = { ...capturingDeps({ mode: 'live', config: parseConfig({}) }), store };
    const failed = await run(rule, eventFor('e-2'), deps);
    const retried = await run(rule, eventFor('e-2'), deps);
    expect(failed).toMatchObject({ outcome: 'failed', error: { kind: 'transient' } });
    expect(retried.outcome).toBe('remediated');
  });

  it("does not claim events that cannot act or notify (no store call for the remediator's own events)", async () => {
    const store = memoryStateStore();
    const deps = { ...capturingDeps({ mode: 'live', config: parseConfig({ selfRoles: ['trailguard-*'] }) }), store };
    const own = wrapRecord({
      ...(eventFor('e-3') as { detail: Record<string, unknown> }).detail,
      eventName: 'PutBucketPublicAccessBlock',
      userIdentity: {
        type: 'AssumedRole',
        accountId: '111122223333',
        arn: 'arn:aws:sts::111122223333:assumed-role/trailguard-dev-x-role/s',
        sessionContext: { sessionIssuer: { userName: 'trailguard-dev-x-role' } },
      },
      requestParameters: {
        bucketName: 'example-a',
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
      },
    });
    const record = await run(writingRule().rule, own, deps);
    expect(record.outcome).toBe('ignored');
    expect(store.items.size).toBe(0);
  });
});

describe('the circuit breaker', () => {
  it('lets the limit through, then reports without writing, CRITICAL, until reset', async () => {
    const store = memoryStateStore();
    const { rule, act } = writingRule();
    const config = parseConfig({ reliability: { breaker: { maxWrites: 3, windowMinutes: 10 } } });
    const deps = { ...capturingDeps({ mode: 'live', config }), store };
    const outcomes = [];
    for (let i = 1; i <= 5; i += 1) outcomes.push(await run(rule, eventFor(`b-${i}`), deps));
    expect(outcomes.map((r) => r.outcome)).toEqual(['remediated', 'remediated', 'remediated', 'would-remediate', 'would-remediate']);
    expect(act).toHaveBeenCalledTimes(3);
    expect(outcomes[3]).toMatchObject({
      severity: 'CRITICAL',
      reason: expect.stringContaining('circuit breaker tripped: 4 writes in 10 min exceed the limit of 3'),
    });
    expect(outcomes[4]).toMatchObject({ severity: 'HIGH', reason: expect.stringContaining('circuit breaker is open since') });
    expect(outcomes[4]?.reason).toContain('trailguard breaker reset public-bucket');

    await store.resetBreaker('public-bucket');
    const afterReset = await run(rule, eventFor('b-6'), { ...deps, now: () => Date.parse('2026-11-25T13:00:00Z') });
    expect(afterReset.outcome).toBe('remediated');
  });

  it('gives the sweep its own breaker: a first live sweep of legacy findings never stops real-time remediation', async () => {
    const store = memoryStateStore();
    const { rule } = writingRule();
    const config = parseConfig({ reliability: { breaker: { maxWrites: 3, windowMinutes: 10 } } });
    const deps = { ...capturingDeps({ mode: 'live', config }), store };
    const scope = { region: 'eu-west-1', account: '111122223333', window: '2026-11-25T12:00:00.000Z', startedAt: deps.now() };
    const sweep = [];
    for (let i = 1; i <= 5; i += 1) {
      const resource = `example-legacy-${i}`;
      sweep.push(await runFinding(rule, sweepFinding(rule.id, resource, scope, { resources: [{ type: 'AWS::S3::Bucket', id: resource }] }), deps));
    }
    expect(sweep.map((r) => r.outcome)).toEqual(['remediated', 'remediated', 'remediated', 'would-remediate', 'would-remediate']);
    expect(sweep[3]?.reason).toContain('the public-bucket:sweep circuit breaker tripped');
    expect(sweep[4]?.reason).toContain('trailguard breaker reset public-bucket:sweep');
    // A new violation, meanwhile, is remediated: the rule's own breaker is closed.
    expect((await run(rule, eventFor('new-1'), deps)).outcome).toBe('remediated');
    expect((await store.breakerState('public-bucket')).open).toBe(false);
    expect((await store.breakerState('public-bucket:sweep')).open).toBe(true);
  });
});

describe('digests for bursts', () => {
  it('sends the first N, one burst notice, then keeps the rest in the log', async () => {
    const store = memoryStateStore();
    const config = parseConfig({ reliability: { digest: { maxPerWindow: 2, windowMinutes: 5 } } });
    const deps = { ...capturingDeps({ mode: 'offline', config }), store };
    const records = [];
    for (let i = 1; i <= 5; i += 1) records.push(await run(writingRule().rule, eventFor(`d-${i}`), deps));
    expect(records.map((r) => r.notification.status)).toEqual(['sent', 'sent', 'sent', 'suppressed', 'suppressed']);
    expect(records[2]?.notification).toMatchObject({ burst: true });
    expect(deps.published).toHaveLength(3);
    expect(deps.published[2]?.subject).toBe('[HIGH] Burst: over 2 public-bucket notifications in 5 min in 111122223333/eu-west-1');
    expect(records[3]?.notification).toMatchObject({ reason: expect.stringContaining('in the remediation log only') });
  });

  it('never holds back a CRITICAL notification', async () => {
    const store = memoryStateStore();
    const config = parseConfig({ reliability: { digest: { maxPerWindow: 1 } } });
    const trail = { type: 'AWS::CloudTrail::Trail', id: 'example-trail' };
    const critical = {
      ...writingRule().rule,
      decide: () => violation('trail stopped', 'CRITICAL', [trail], [{ api: 'CloudTrail.StartLogging', resource: trail, params: {} }]),
    };
    const deps = { ...capturingDeps({ mode: 'offline', config }), store };
    const records = [];
    for (let i = 1; i <= 3; i += 1) records.push(await run(critical, eventFor(`c-${i}`), deps));
    expect(records.map((r) => r.outcome)).toEqual(['would-remediate', 'would-remediate', 'would-remediate']);
    expect(deps.published).toHaveLength(3);
  });
});
