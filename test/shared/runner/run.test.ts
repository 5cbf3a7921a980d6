import { PutPublicAccessBlockCommand, GetPublicAccessBlockCommand } from '@aws-sdk/client-s3';
import { describe, expect, it, vi, type Mock } from 'vitest';
import { s3Client } from '../../../shared/aws/s3.js';
import { parseConfig } from '../../../shared/config.js';
import { ParseError } from '../../../shared/errors.js';
import { wrapRecord } from '../../../shared/events/schema.js';
import { RECORD_FIELDS } from '../../../shared/remediation-log.js';
import { compliant, violation, type AnyRule, type PlannedAction } from '../../../shared/rule.js';
import { run, runUnmatched } from '../../../shared/runner/run.js';
import { testAction } from '../../helpers/actions.js';
import { capturingDeps } from '../../helpers/samples.js';

/** What the rule's one action type does: spies the runner performs and reads back through. */
interface Writes {
  readonly act?: Mock<(params: unknown) => Promise<void>>;
  readonly verify?: Mock<(params: unknown) => Promise<{ ok: boolean; detail: string }>>;
}

/**
 * A rule whose every step is a spy, to test what the runner does around it; its writes are performed and read back
 * through its action type (`act`, `verify`: the spies the test asserts on).
 */
function fakeRule(overrides: Partial<AnyRule> = {}, writes: Writes = {}) {
  const act = writes.act ?? vi.fn(async (_params: unknown) => undefined);
  const verify = writes.verify ?? vi.fn(async (_params: unknown) => ({ ok: true, detail: 'read back' }));
  const actions: PlannedAction[] = ['example-a', 'example-b'].map((id) => ({
    api: 'S3.PutPublicAccessBlock',
    resource: { type: 'AWS::S3::Bucket', id },
    params: { Bucket: id },
  }));
  const rule = {
    id: 'public-bucket',
    pattern: { source: ['aws.s3'], detail: { eventName: ['PutBucketAcl'] } },
    permissions: { 'S3.PutPublicAccessBlock': 's3:PutBucketPublicAccessBlock' },
    settings: () => ({ enabled: true }),
    clients: vi.fn(() => ({ marker: 'clients' })),
    parse: vi.fn(() => ({ resources: actions.map((a) => a.resource) })),
    inspect: vi.fn(async () => ({ public: true })),
    decide: vi.fn((_facts: unknown, state: { public: boolean } | undefined) =>
      state?.public === false
        ? compliant('fine')
        : violation(
            'public',
            'HIGH',
            actions.map((a) => a.resource),
            actions,
          ),
    ),
    actions: [testAction('S3.PutPublicAccessBlock', { perform: act, verify })],
    message: () => ({ title: 'title', lines: [] }),
    ...overrides,
  } satisfies AnyRule;
  return { rule, act, verify };
}

const record = {
  eventVersion: '1.09',
  eventTime: '2026-11-20T09:15:00Z',
  eventSource: 's3.amazonaws.com',
  eventName: 'PutBucketAcl',
  awsRegion: 'eu-west-1',
  eventID: 'e-1',
  recipientAccountId: '111122223333',
  userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/alice', userName: 'alice' },
  requestParameters: { bucketName: 'example-a' },
  responseElements: null,
};
const event = wrapRecord(record);

describe('run: guards before any rule code', () => {
  it('ignores an event whose source is not an AWS service, however it looks otherwise', async () => {
    const { rule, act } = fakeRule();
    const forged = { ...event, source: 'custom.aws.s3' };
    const r = await run(rule, forged, capturingDeps({ mode: 'live' }));
    expect(r).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('not a CloudTrail event from an AWS service') });
    expect(rule.parse).not.toHaveBeenCalled();
    expect(act).not.toHaveBeenCalled();
  });

  describe("the remediator's own calls", () => {
    const rule = () => fakeRule({ pattern: { source: ['aws.s3'], detail: { eventName: ['PutBucketAcl', 'PutBucketPublicAccessBlock'] } } });
    const trailguard = (account: string) => ({
      type: 'AssumedRole',
      accountId: account,
      arn: `arn:aws:sts::${account}:assumed-role/trailguard-prod-publicBucket-role/trailguard-prod-publicBucket`,
      sessionContext: { sessionIssuer: { type: 'Role', userName: 'trailguard-prod-publicBucket-role' } },
    });
    const deps = () => capturingDeps({ mode: 'live', config: parseConfig({ selfRoles: ['trailguard-prod-publicBucket-role'] }) });
    // What trailguard writes: all four flags on (a call turning them off is judged, test/shared/runner/self-calls.test.ts).
    const OWN_BLOCK = {
      bucketName: 'example-a',
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
    };

    it("ignores its own fix: its role, in the event's account, making a call trailguard makes", async () => {
      const { rule: r } = rule();
      const own = wrapRecord({ ...record, eventName: 'PutBucketPublicAccessBlock', userIdentity: trailguard('111122223333'), requestParameters: OWN_BLOCK });
      expect(await run(r, own, deps())).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('caused by trailguard itself') });
      expect(r.inspect).not.toHaveBeenCalled();
    });

    it('judges the same role name making a call trailguard never makes (a look-alike making a bucket public)', async () => {
      const { rule: r, act } = rule();
      const lookalike = wrapRecord({ ...record, userIdentity: trailguard('111122223333') });
      expect((await run(r, lookalike, deps())).outcome).toBe('remediated');
      expect(act).toHaveBeenCalled();
    });

    it('judges a role of that name from another account, or with no account recorded', async () => {
      for (const identity of [trailguard('999988887777'), { ...trailguard('111122223333'), accountId: undefined }]) {
        const { rule: r } = rule();
        const foreign = wrapRecord({ ...record, eventName: 'PutBucketPublicAccessBlock', userIdentity: identity, requestParameters: OWN_BLOCK });
        expect((await run(r, foreign, deps())).reason).not.toContain('caused by trailguard itself');
        expect(r.inspect).toHaveBeenCalled();
      }
    });
  });

  it('ignores a failed call unless the rule alerts on it', async () => {
    const { rule } = fakeRule();
    const r = await run(rule, wrapRecord({ ...record, errorCode: 'AccessDenied' }), capturingDeps({ mode: 'live' }));
    expect(r).toMatchObject({ outcome: 'ignored', reason: 'the call failed (AccessDenied): nothing changed' });
    expect(rule.parse).not.toHaveBeenCalled();
  });

  it('records a parse failure as failed with the field, and never acts', async () => {
    const { rule, act } = fakeRule({
      parse: vi.fn(() => {
        throw new ParseError('detail.requestParameters.bucketName', 'is missing', 'e-1');
      }),
    });
    const r = await run(rule, event, capturingDeps({ mode: 'live' }));
    expect(r).toMatchObject({
      outcome: 'failed',
      error: { kind: 'parse' },
      reason: expect.stringContaining('detail.requestParameters.bucketName: is missing'),
    });
    expect(act).not.toHaveBeenCalled();
  });

  it('records an unreadable envelope with its id, never throwing', async () => {
    const deps = capturingDeps({ mode: 'live' });
    const r = await run(fakeRule().rule, { id: 'broken-1', 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', detail: 'nope' }, deps);
    expect(r).toMatchObject({ outcome: 'failed', eventId: 'broken-1', error: { kind: 'parse' } });
    expect(deps.written).toHaveLength(1);
  });
});

describe('run: exemptions', () => {
  const exempting = (expires: string) => parseConfig({ exemptions: [{ resource: 'example-*', reason: 'sandbox', expires }] });

  it('makes no AWS call when every resource is exempt', async () => {
    const { rule } = fakeRule();
    const r = await run(rule, event, capturingDeps({ mode: 'live', config: exempting('2026-11-25') }));
    expect(r).toMatchObject({
      outcome: 'exempt',
      exemptions: [{ resource: 'example-a', reason: 'sandbox', expires: '2026-11-25' }, { resource: 'example-b' }],
    });
    expect(rule.clients).not.toHaveBeenCalled();
  });

  it('stops exempting the day after it expires', async () => {
    const { rule, act } = fakeRule();
    const r = await run(rule, event, capturingDeps({ mode: 'live', config: exempting('2026-11-24') }));
    expect(r.outcome).toBe('remediated');
    expect(act).toHaveBeenCalledTimes(2);
  });

  it('drops only the exempt actions', async () => {
    const { rule, act } = fakeRule();
    const config = parseConfig({ exemptions: [{ rule: 'public-bucket', resource: 'example-b', reason: 'website' }] });
    const r = await run(rule, event, capturingDeps({ mode: 'live', config }));
    expect(r).toMatchObject({ outcome: 'remediated', actions: [{ resource: 'example-a', status: 'done' }] });
    expect(r.exemptions).toEqual([{ resource: 'example-b', reason: 'website', expires: null }]);
    expect(act).toHaveBeenCalledTimes(1);
  });
});

describe('run: acting and verifying', () => {
  it("reports a half-done remediation as failed, with each action's status", async () => {
    const denied = Object.assign(new Error('no'), { name: 'AccessDenied' });
    const { rule } = fakeRule({}, { act: vi.fn().mockResolvedValueOnce(undefined).mockRejectedValueOnce(denied) });
    const r = await run(rule, event, capturingDeps({ mode: 'live' }));
    expect(r).toMatchObject({
      outcome: 'failed',
      actions: [
        { resource: 'example-a', status: 'done' },
        { resource: 'example-b', status: 'failed', error: 'denied: AccessDenied' },
      ],
      error: { kind: 'denied', permission: 's3:PutBucketPublicAccessBlock' },
      reason: expect.stringContaining('1 of 2 actions failed (1 done)'),
    });
  });

  it('never calls an action remediated when its read-back throws', async () => {
    const { rule } = fakeRule(
      {},
      { verify: vi.fn().mockRejectedValue(Object.assign(new Error('t'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } })) },
    );
    const r = await run(rule, event, capturingDeps({ mode: 'live' }));
    expect(r).toMatchObject({
      outcome: 'failed',
      reason: expect.stringContaining('verification failed'),
      actions: [{ status: 'done', verification: { ok: false } }, {}],
    });
  });

  it('does not act in dry-run or offline, and does not read offline', async () => {
    for (const mode of ['dry-run', 'offline'] as const) {
      const { rule, act } = fakeRule();
      const r = await run(rule, event, capturingDeps({ mode }));
      expect(r).toMatchObject({ outcome: 'would-remediate', actions: [{ status: 'planned' }, { status: 'planned' }] });
      expect(act).not.toHaveBeenCalled();
      expect(rule.inspect).toHaveBeenCalledTimes(mode === 'dry-run' ? 1 : 0);
    }
  });

  it("builds read-only clients for dry-run, in the event's region", async () => {
    const { rule } = fakeRule();
    await run(rule, event, capturingDeps({ mode: 'dry-run', config: parseConfig({ endpoint: 'http://127.0.0.1:5999' }) }));
    expect(rule.clients).toHaveBeenCalledWith({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:5999', readOnly: true });
  });

  it('turns an unexpected bug into a failed record instead of a crash', async () => {
    const { rule } = fakeRule({
      decide: vi.fn(() => {
        throw new TypeError('boom');
      }),
    });
    const r = await run(rule, event, capturingDeps({ mode: 'live' }));
    expect(r).toMatchObject({ outcome: 'failed', error: { kind: 'internal', code: 'TypeError' }, reason: 'unexpected error: TypeError: boom' });
  });
});

describe('run: the record and the notification', () => {
  it('writes exactly one record with the contract fields, in order', async () => {
    const deps = capturingDeps({ mode: 'live' });
    const r = await run(fakeRule().rule, event, deps);
    expect(deps.written).toEqual([r]);
    expect(Object.keys(r)).toEqual([...RECORD_FIELDS]);
  });

  it('measures exposure from the event time to the verified fix, in live remediations only', async () => {
    const live = await run(fakeRule().rule, event, capturingDeps({ mode: 'live' }));
    expect(live.exposureMs).toBe(Date.parse('2026-11-25T12:00:00Z') - Date.parse('2026-11-20T09:15:00Z'));
    const dry = await run(fakeRule().rule, event, capturingDeps({ mode: 'dry-run' }));
    expect(dry.exposureMs).toBeNull();
  });

  it('reports a half-done remediation (first write landed, second throttled) as such, and lets it be retried', async () => {
    const act = vi
      .fn()
      .mockResolvedValueOnce(undefined)
      .mockRejectedValueOnce(Object.assign(new Error('slow'), { name: 'ThrottlingException' }));
    const deps = capturingDeps({ mode: 'live' });
    const r = await run(fakeRule({}, { act }).rule, event, deps);
    expect(r).toMatchObject({
      outcome: 'failed',
      error: { kind: 'transient', code: 'ThrottlingException' },
      actions: [
        { resource: 'example-a', status: 'done' },
        { resource: 'example-b', status: 'failed', error: 'transient: ThrottlingException' },
      ],
      reason: expect.stringContaining('half done: 1 of 2 actions done, then S3.PutPublicAccessBlock failed'),
      notification: { status: 'deferred' },
    });
  });

  it('stops the exposure clock at the verified fix, not after a slow notification', async () => {
    let clock = Date.parse('2026-11-25T12:00:00Z');
    const deps = {
      ...capturingDeps({ mode: 'live' }),
      now: () => clock,
      notify: async () => {
        clock += 5_000;
        return 'm-1';
      },
    };
    const r = await run(fakeRule().rule, event, deps);
    expect(r.exposureMs).toBe(Date.parse('2026-11-25T12:00:00Z') - Date.parse('2026-11-20T09:15:00Z'));
    expect(r.durationMs).toBe(5_000);
  });

  it('keeps the remediation when the notification cannot be sent, and says so', async () => {
    const notify = vi.fn().mockRejectedValue(Object.assign(new Error('Topic does not exist'), { name: 'NotFoundException' }));
    const r = await run(fakeRule().rule, event, capturingDeps({ mode: 'live', notify }));
    expect(r).toMatchObject({ outcome: 'remediated', notification: { status: 'failed', error: 'invalid: NotFoundException' } });
    expect(notify).toHaveBeenCalledTimes(1);
  });

  it('does not notify compliant decisions', async () => {
    const deps = capturingDeps({ mode: 'live' });
    const { rule } = fakeRule({ inspect: vi.fn(async () => ({ public: false })) });
    const r = await run(rule, event, deps);
    expect(r).toMatchObject({ outcome: 'compliant', notification: { status: 'not-needed' } });
    expect(deps.published).toEqual([]);
  });

  it('records an event no rule matches as ignored, with rule null', async () => {
    const r = await runUnmatched(wrapRecord({ ...record, eventSource: 'sts.amazonaws.com', eventName: 'AssumeRole' }), capturingDeps());
    expect(r).toMatchObject({ rule: null, outcome: 'ignored', reason: "no rule's pattern matches aws.sts AssumeRole" });
  });
});

describe('the dry-run client guard', () => {
  it('refuses a write before it is sent, and lets reads through', async () => {
    const sent: string[] = [];
    const client = s3Client({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:9', readOnly: true });
    client.middlewareStack.add(
      (_next, context) => async () => {
        sent.push(String(context.commandName));
        throw Object.assign(new Error('stop before the network'), { name: 'StopHere' });
      },
      { step: 'initialize', priority: 'low', name: 'recordSent' },
    );

    await expect(client.send(new PutPublicAccessBlockCommand({ Bucket: 'example', PublicAccessBlockConfiguration: {} }))).rejects.toMatchObject({
      name: 'AwsCallError',
      code: 'DryRunWriteRefused',
      api: 'S3.PutPublicAccessBlock',
    });
    await expect(client.send(new GetPublicAccessBlockCommand({ Bucket: 'example' }))).rejects.toThrow('stop before the network');
    expect(sent).toEqual(['GetPublicAccessBlockCommand']);
  });
});
