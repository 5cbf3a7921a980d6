import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  DescribeTagsCommand,
  EC2Client,
  type CreateTagsCommandInput,
  type DescribeInstancesCommandInput,
  type DescribeTagsCommandInput,
} from '@aws-sdk/client-ec2';
import { CreateScheduleCommand, GetScheduleCommand, SchedulerClient, type CreateScheduleCommandInput } from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { untaggedInstance, VISIBILITY_LAG_MINUTES } from '../../../functions/untagged-instance/rule.js';
import { TAGGED_AT_KEY } from '../../../shared/ec2/tags.js';
import { reversalsOf } from '../../../shared/actions/reversal.js';
import { lambdaRunner } from '../../../shared/runner/lambda.js';
import { run } from '../../../shared/runner/run.js';
import { memoryStateStore } from '../../../shared/state/store.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const ec2 = mockClient(EC2Client);
const scheduler = mockClient(SchedulerClient);
const ACCOUNT = '111122223333';
const TWO = 'would-remediate.two-instances-one-call';
const [FIRST, SECOND, THIRD] = ['i-0c1d2e3f4a5b60718', 'i-0c1d2e3f4a5b60719', 'i-0c1d2e3f4a5b6071a'];
const DAVE = `arn:aws:iam::${ACCOUNT}:user/dave`;
const TAGGED_AT = '2026-11-20T09:19:00.000Z'; // the event time, not the clock

/** A small in-memory EC2: instances with state and volumes, tags per resource; CreateTags writes into it. */
interface FakeInstance {
  state: string;
  volumes?: string[];
}
let instances: Record<string, FakeInstance>;
let tags: Record<string, Record<string, string>>;

const valuesOf = (input: { Filters?: { Name?: string; Values?: string[] }[] }, name: string) => input.Filters?.find((f) => f.Name === name)?.Values ?? [];

function fakeEc2(): void {
  ec2.on(DescribeInstancesCommand).callsFake((input: DescribeInstancesCommandInput) => ({
    Reservations: [
      {
        Instances: valuesOf(input, 'instance-id')
          .filter((id) => instances[id])
          .map((id) => ({
            InstanceId: id,
            State: { Name: instances[id]?.state },
            Tags: Object.entries(tags[id] ?? {}).map(([Key, Value]) => ({ Key, Value })),
            BlockDeviceMappings: (instances[id]?.volumes ?? []).map((VolumeId, i) => ({ DeviceName: `/dev/xvd${'abc'[i]}`, Ebs: { VolumeId } })),
          })),
      },
    ],
  }));
  ec2.on(DescribeTagsCommand).callsFake((input: DescribeTagsCommandInput) => ({
    Tags: valuesOf(input, 'resource-id').flatMap((ResourceId) => Object.entries(tags[ResourceId] ?? {}).map(([Key, Value]) => ({ ResourceId, Key, Value }))),
  }));
  ec2.on(CreateTagsCommand).callsFake((input: CreateTagsCommandInput) => {
    for (const id of input.Resources ?? []) {
      if (!instances[id] && !id.startsWith('vol-'))
        throw Object.assign(new Error(`The instance ID '${id}' does not exist`), { name: 'InvalidInstanceID.NotFound' });
      tags[id] = { ...tags[id], ...Object.fromEntries((input.Tags ?? []).map((t) => [t.Key, t.Value])) };
    }
    return {};
  });
}

beforeEach(() => {
  ec2.reset();
  ec2.rejects(new Error('unexpected EC2 call')); // unmocked calls fail loudly
  scheduler.reset();
  scheduler.rejects(new Error('unexpected Scheduler call'));
  instances = { [FIRST]: { state: 'running' }, [SECOND]: { state: 'pending' } };
  tags = { [FIRST]: { Name: 'example-load-test' }, [SECOND]: { Name: 'example-load-test' } };
});
afterEach(() => {
  ec2.reset();
  scheduler.reset();
});

describe('untagged-instance live', () => {
  it('tags the untagged instances of one launch with only the missing keys in one CreateTags, and reads each back', async () => {
    fakeEc2();

    const { record, deps } = await runSample(untaggedInstance, TWO, { mode: 'live' });

    expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, { Filters: [{ Name: 'instance-id', Values: [FIRST, SECOND] }] });
    expect(ec2.commandCalls(CreateTagsCommand).map((call) => call.args[0].input)).toEqual([
      {
        Resources: [FIRST, SECOND],
        Tags: [
          { Key: 'Owner', Value: DAVE },
          { Key: TAGGED_AT_KEY, Value: TAGGED_AT },
        ],
      },
    ]);
    for (const id of [FIRST, SECOND]) expect(tags[id]).toEqual({ Name: 'example-load-test', Owner: DAVE, [TAGGED_AT_KEY]: TAGGED_AT });
    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'LOW',
      actions: [
        {
          api: 'EC2.CreateTags',
          resource: FIRST,
          status: 'done',
          params: { Resources: [FIRST, SECOND] },
          previous: {
            Tags: { Name: 'example-load-test' },
            TagsByResource: { [FIRST]: { Name: 'example-load-test' }, [SECOND]: { Name: 'example-load-test' } },
          },
          verification: { ok: true, detail: `Owner, ${TAGGED_AT_KEY} read back on each of 2 resources (${FIRST}, ${SECOND})` },
        },
      ],
    });
    expect(record.actions).toHaveLength(1);
    expect(deps.published[0]?.subject).toMatch(/^\[LOW\] Tagged 2 EC2 instances/);
    // The same command as report and undo print, from the action type: with --region, and with each value it wrote.
    expect(deps.published[0]?.text).toContain(
      `To reverse: aws ec2 delete-tags --region 'eu-west-1' --resources '${FIRST}' '${SECOND}' --tags '[{"Key":"Owner","Value":"${DAVE}"}`,
    );
    expect(deps.published[0]?.text).toContain(`{"Key":"${TAGGED_AT_KEY}","Value":"`);
  });

  it('keeps one CreateTags per instance for a single instance, with its own tags as previous', async () => {
    instances = { 'i-0123456789abcdef0': { state: 'running' } };
    tags = { 'i-0123456789abcdef0': { Name: 'example-web' } };
    fakeEc2();

    const { record } = await runSample(untaggedInstance, 'would-remediate.console-iam-user-no-tags', { mode: 'live' });

    expect(ec2).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: ['i-0123456789abcdef0'] });
    expect(record).toMatchObject({
      outcome: 'remediated',
      actions: [
        {
          resource: 'i-0123456789abcdef0',
          previous: { Tags: { Name: 'example-web' } },
          verification: {
            ok: true,
            detail: expect.stringMatching(/^Owner=arn:aws:iam::111122223333:user\/alice, trailguard:tagged-at=.* read back on i-0123456789abcdef0$/),
          },
        },
      ],
    });
    expect(record.actions[0]?.previous).not.toHaveProperty('TagsByResource');
  });

  it('reads no volume tags when volumes are not tagged (the default), and still reads the instances', async () => {
    fakeEc2();
    instances = { [FIRST]: { state: 'running', volumes: ['vol-0123456789abcdef0'] }, [SECOND]: { state: 'running' } };

    const { record } = await runSample(untaggedInstance, TWO, { mode: 'live' });

    const volumeReads = ec2.commandCalls(DescribeTagsCommand).filter((call) => valuesOf(call.args[0].input, 'resource-id').some((id) => id.startsWith('vol-')));
    expect(volumeReads).toEqual([]);
    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(record.outcome).toBe('remediated');
  });

  it('tags only the instance that lacks the tag, and never rewrites the other one', async () => {
    tags[FIRST] = { Owner: 'team-a@example.com' };
    fakeEc2();

    const { record } = await runSample(untaggedInstance, TWO, { mode: 'live' });

    expect(ec2).toHaveReceivedCommandTimes(CreateTagsCommand, 1);
    expect(ec2).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: [SECOND] });
    expect(tags[FIRST]).toEqual({ Owner: 'team-a@example.com' });
    expect(record).toMatchObject({ outcome: 'remediated', resources: [{ id: SECOND }], reason: expect.stringContaining(`already tagged: ${FIRST}`) });
  });

  it('is compliant, with no write, when the launch template added the tag the event did not show', async () => {
    tags = { [FIRST]: { Owner: 'a' }, [SECOND]: { Owner: 'b' } };
    fakeEc2();

    const { record } = await runSample(untaggedInstance, TWO, { mode: 'live' });

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(CreateTagsCommand, 0);
    expect(record.outcome).toBe('compliant');
  });

  it('ignores a launch whose instance is already purged, without writing', async () => {
    fakeEc2(); // the fake knows only the two load-test instances

    const { record } = await runSample(untaggedInstance, 'would-remediate.console-iam-user-no-tags', { mode: 'live' });

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(CreateTagsCommand, 0);
    expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('i-0123456789abcdef0 not found (terminated and purged)') });
  });

  it('records a terminated instance as skipped and tags the one still running', async () => {
    instances[FIRST] = { state: 'terminated' };
    fakeEc2();

    const { record } = await runSample(untaggedInstance, TWO, { mode: 'live' });

    expect(ec2).toHaveReceivedCommandTimes(CreateTagsCommand, 1);
    expect(ec2).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: [SECOND] });
    expect(record).toMatchObject({ outcome: 'remediated', reason: expect.stringContaining(`skipped: ${FIRST} is terminated`) });
  });

  it('retries, never ignores, when CreateTags does not know an instance DescribeInstances just showed', async () => {
    fakeEc2();
    // EC2 describes an instance before it can tag it, and one unknown id fails the whole call.
    ec2
      .on(CreateTagsCommand)
      .rejects(
        Object.assign(new Error(`The instance ID '${SECOND}' does not exist`), { name: 'InvalidInstanceID.NotFound', $metadata: { httpStatusCode: 400 } }),
      );
    const deps = capturingDeps({ mode: 'live' });

    await expect(lambdaRunner(untaggedInstance, () => deps)(loadSample('untagged-instance', TWO))).rejects.toMatchObject({ kind: 'transient' });

    expect(ec2).toHaveReceivedCommandTimes(CreateTagsCommand, 1);
    expect(deps.written).toMatchObject([
      {
        outcome: 'failed',
        error: { kind: 'transient', code: 'InvalidInstanceID.NotFound', api: 'EC2.CreateTags' },
        notification: { status: 'deferred' },
      },
    ]);
  });

  it('tags every instance of a 30-instance launch in one CreateTags, so the circuit breaker stays closed', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `i-0aaaaaaaaaaaaa${i.toString(16).padStart(3, '0')}`);
    instances = Object.fromEntries(ids.map((id) => [id, { state: 'pending' }]));
    tags = Object.fromEntries(ids.map((id) => [id, { Name: 'example-batch' }]));
    fakeEc2();
    const created = new Map<string, CreateScheduleCommandInput>();
    scheduler.on(CreateScheduleCommand).callsFake((input: CreateScheduleCommandInput) => {
      created.set(String(input.Name), input);
      return { ScheduleArn: `arn:aws:scheduler:eu-west-1:${ACCOUNT}:schedule/default/${input.Name}` };
    });
    scheduler.on(GetScheduleCommand).callsFake((input: { Name: string }) => ({ ...created.get(input.Name), State: 'ENABLED' }));
    // The limit the audit found it exceeded: 50 writes per window, 30 CreateTags + 30 schedules.
    const config = sampleConfig({
      enforceFunctionArn: `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:trailguard-test-untaggedInstanceEnforce`,
      schedulerRoleArn: `arn:aws:iam::${ACCOUNT}:role/trailguard-test-enforceScheduler-role`,
      rules: { 'untagged-instance': { enforcement: { enabled: true } } },
      reliability: { breaker: { maxWrites: 50, windowMinutes: 10 } },
    });
    const store = memoryStateStore();
    const deps = { ...capturingDeps({ mode: 'live', config }), store };
    const sample = withDetail(loadSample('untagged-instance', TWO), {
      responseElements: { instancesSet: { items: ids.map((instanceId) => ({ instanceId, tagSet: { items: [{ key: 'Name', value: 'example-batch' }] } })) } },
    });

    const record = await run(untaggedInstance, sample, deps);

    expect(ec2.commandCalls(CreateTagsCommand).map((call) => call.args[0].input)).toEqual([
      {
        Resources: ids,
        Tags: [
          { Key: 'Owner', Value: DAVE },
          { Key: TAGGED_AT_KEY, Value: TAGGED_AT },
        ],
      },
    ]);
    for (const id of ids) expect(tags[id]).toMatchObject({ Owner: DAVE, [TAGGED_AT_KEY]: TAGGED_AT });
    expect(created.size).toBe(30);
    expect(await store.breakerState('untagged-instance')).toEqual({ open: false });
    expect(record).toMatchObject({ outcome: 'remediated', severity: 'LOW' });
    expect(record.reason).not.toContain('circuit breaker');
    expect(record.actions.map((a) => a.api)).toEqual(['EC2.CreateTags', ...ids.map(() => 'Scheduler.CreateSchedule')]);
    // `trailguard undo` reverses the one action on every instance, and only the keys it added.
    const [first] = reversalsOf(untaggedInstance.actions, record);
    expect(first?.reversal).toMatchObject({
      kind: 'steps',
      steps: [
        {
          action: {
            api: 'EC2.DeleteTags',
            params: {
              Resources: ids,
              Tags: [
                { Key: 'Owner', Value: DAVE },
                { Key: TAGGED_AT_KEY, Value: TAGGED_AT },
              ],
            },
          },
        },
      ],
    });
  });

  it('keeps an instance an exemption names out of the group: the others are tagged in one call, it is exempt', async () => {
    instances = { [FIRST]: { state: 'running' }, [SECOND]: { state: 'running' }, [THIRD]: { state: 'running' } };
    tags = { [FIRST]: {}, [SECOND]: {}, [THIRD]: {} };
    fakeEc2();
    const config = sampleConfig({ exemptions: [{ rule: 'untagged-instance', resource: SECOND, reason: 'load generator, ticket OPS-7' }] });
    const sample = withDetail(loadSample('untagged-instance', TWO), {
      responseElements: { instancesSet: { items: [FIRST, SECOND, THIRD].map((instanceId) => ({ instanceId })) } },
    });

    const record = await run(untaggedInstance, sample, capturingDeps({ mode: 'live', config }));

    expect(ec2.commandCalls(CreateTagsCommand).map((call) => call.args[0].input.Resources)).toEqual([[FIRST, THIRD]]);
    expect(tags[SECOND]).toEqual({});
    expect(record).toMatchObject({
      outcome: 'remediated',
      exemptions: [{ resource: SECOND, reason: 'load generator, ticket OPS-7' }],
      actions: [{ params: { Resources: [FIRST, THIRD] } }],
    });
  });

  it('groups only instances that need the same tags, and never writes over a key one of them has', async () => {
    instances = { [FIRST]: { state: 'running' }, [SECOND]: { state: 'running' }, [THIRD]: { state: 'running' } };
    tags = { [FIRST]: {}, [SECOND]: { [TAGGED_AT_KEY]: 'earlier' }, [THIRD]: {} };
    fakeEc2();
    const sample = withDetail(loadSample('untagged-instance', TWO), {
      responseElements: { instancesSet: { items: [FIRST, SECOND, THIRD].map((instanceId) => ({ instanceId })) } },
    });

    const record = await run(untaggedInstance, sample, capturingDeps({ mode: 'live' }));

    expect(ec2.commandCalls(CreateTagsCommand).map((call) => call.args[0].input)).toEqual([
      {
        Resources: [FIRST, THIRD],
        Tags: [
          { Key: 'Owner', Value: DAVE },
          { Key: TAGGED_AT_KEY, Value: TAGGED_AT },
        ],
      },
      { Resources: [SECOND], Tags: [{ Key: 'Owner', Value: DAVE }] },
    ]);
    expect(tags[SECOND]).toEqual({ [TAGGED_AT_KEY]: 'earlier', Owner: DAVE });
    expect(record).toMatchObject({
      outcome: 'remediated',
      actions: [{ resource: FIRST }, { resource: SECOND, previous: { Tags: { [TAGGED_AT_KEY]: 'earlier' } } }],
    });
  });

  it('does not write when one instance of the group was tagged since inspect, and names it', async () => {
    fakeEc2();
    let reads = 0;
    ec2.on(DescribeTagsCommand).callsFake(() => {
      reads += 1;
      return { Tags: [{ ResourceId: SECOND, Key: 'Owner', Value: 'set-by-a-person' }] };
    });

    const { record } = await runSample(untaggedInstance, TWO, { mode: 'live' });

    expect(reads).toBe(1);
    expect(ec2).toHaveReceivedCommandTimes(CreateTagsCommand, 0);
    expect(record).toMatchObject({
      outcome: 'failed',
      error: { kind: 'transient', code: 'TagAddedSinceInspect', message: expect.stringContaining(`${SECOND} Owner`) },
    });
  });

  it('reads each instance of the group back: one without the tags fails the action, named', async () => {
    fakeEc2();
    ec2.on(CreateTagsCommand).callsFake((input: CreateTagsCommandInput) => {
      tags[FIRST] = { ...tags[FIRST], ...Object.fromEntries((input.Tags ?? []).map((t) => [t.Key, t.Value])) }; // SECOND keeps nothing
      return {};
    });

    const { record } = await runSample(untaggedInstance, TWO, { mode: 'live' });

    expect(record).toMatchObject({
      outcome: 'failed',
      actions: [{ status: 'done', verification: { ok: false, detail: `Owner, ${TAGGED_AT_KEY} missing on ${SECOND} after CreateTags` } }],
    });
  });

  it('tags the attached volumes with their own missing keys when tagVolumes is on', async () => {
    instances[FIRST] = { state: 'running', volumes: ['vol-0aaaaaaaaaaaaaaa1'] };
    tags[SECOND] = { Owner: 'kept' };
    tags['vol-0aaaaaaaaaaaaaaa1'] = { [TAGGED_AT_KEY]: 'from an earlier run' };
    fakeEc2();
    const config = sampleConfig({ rules: { 'untagged-instance': { tagVolumes: true } } });

    const { record } = await runSample(untaggedInstance, TWO, { mode: 'live', config });

    expect(ec2).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: ['vol-0aaaaaaaaaaaaaaa1'], Tags: [{ Key: 'Owner', Value: DAVE }] });
    expect(ec2).toHaveReceivedCommandWith(CreateTagsCommand, {
      Resources: [FIRST],
      Tags: [
        { Key: 'Owner', Value: DAVE },
        { Key: TAGGED_AT_KEY, Value: TAGGED_AT },
      ],
    });
    expect(ec2).toHaveReceivedCommandTimes(CreateTagsCommand, 2);
    expect(tags['vol-0aaaaaaaaaaaaaaa1']).toEqual({ [TAGGED_AT_KEY]: 'from an earlier run', Owner: DAVE });
    expect(record).toMatchObject({ outcome: 'remediated', actions: [{ resource: FIRST }, { resource: 'vol-0aaaaaaaaaaaaaaa1', status: 'done' }] });
  });

  it('does not overwrite a key that appeared after inspect: no write, and the event is retried', async () => {
    fakeEc2();
    let reads = 0;
    ec2.on(DescribeTagsCommand).callsFake(() => {
      reads += 1;
      return { Tags: [{ ResourceId: 'i-0123456789abcdef0', Key: 'Owner', Value: 'set-by-a-person' }] };
    });
    instances = { 'i-0123456789abcdef0': { state: 'running' } };
    tags = {};

    const { record } = await runSample(untaggedInstance, 'would-remediate.console-iam-user-no-tags', { mode: 'live' });

    expect(reads).toBe(1);
    expect(ec2).toHaveReceivedCommandTimes(CreateTagsCommand, 0);
    expect(record).toMatchObject({ outcome: 'failed', error: { kind: 'transient', code: 'TagAddedSinceInspect' } });
  });

  it('fails with the IAM action named when CreateTags is denied', async () => {
    instances = { 'i-0123456789abcdef0': { state: 'running' } };
    fakeEc2();
    ec2
      .on(CreateTagsCommand)
      .rejects(Object.assign(new Error('You are not authorized'), { name: 'UnauthorizedOperation', $metadata: { httpStatusCode: 403 } }));

    const { record, deps } = await runSample(untaggedInstance, 'would-remediate.console-iam-user-no-tags', { mode: 'live' });

    expect(record).toMatchObject({
      outcome: 'failed',
      actions: [{ status: 'failed', error: 'denied: UnauthorizedOperation' }],
      error: { kind: 'denied', api: 'EC2.CreateTags', permission: 'ec2:CreateTags' },
    });
    expect(deps.published[0]?.subject).toMatch(/FAILED to tag EC2 instance i-0123456789abcdef0/);
  });

  it('reports a write that does not read back as failed, never remediated', async () => {
    instances = { 'i-0123456789abcdef0': { state: 'running' } };
    fakeEc2();
    ec2.on(CreateTagsCommand).resolves({}); // accepted, but nothing sticks

    const { record } = await runSample(untaggedInstance, 'would-remediate.console-iam-user-no-tags', { mode: 'live' });

    expect(ec2).toHaveReceivedCommandTimes(CreateTagsCommand, 1);
    expect(record).toMatchObject({
      outcome: 'failed',
      actions: [{ status: 'done', verification: { ok: false, detail: `Owner, ${TAGGED_AT_KEY} missing on i-0123456789abcdef0 after CreateTags` } }],
    });
  });
});

describe('untagged-instance right after the launch: DescribeInstances is eventually consistent', () => {
  const ALICE = 'would-remediate.console-iam-user-no-tags'; // i-0123456789abcdef0, launched 2026-11-20T09:16:00Z
  const LAUNCH = Date.parse('2026-11-20T09:16:00Z');
  afterEach(() => vi.useRealTimers());

  it('retries, never ignores, an instance DescribeInstances does not show yet a few minutes after its launch', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(LAUNCH + 2 * 60_000);
    fakeEc2(); // the fake knows only the two load-test instances
    const deps = capturingDeps({ mode: 'live' });

    await expect(lambdaRunner(untaggedInstance, () => deps)(loadSample('untagged-instance', ALICE))).rejects.toMatchObject({ kind: 'transient' });

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(CreateTagsCommand, 0);
    expect(deps.written).toMatchObject([
      {
        outcome: 'failed',
        error: { kind: 'transient', code: 'InvalidInstanceID.NotFound', api: 'EC2.DescribeInstances', message: expect.stringContaining('i-0123456789abcdef0') },
        notification: { status: 'deferred' },
      },
    ]);
  });

  it('ignores the missing instance once the launch is older than the visibility lag', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(LAUNCH + VISIBILITY_LAG_MINUTES * 60_000);
    fakeEc2();

    const { record } = await runSample(untaggedInstance, ALICE, { mode: 'live' });

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(record).toMatchObject({ outcome: 'ignored', error: null, reason: expect.stringContaining('i-0123456789abcdef0 not found (terminated and purged)') });
  });
});

describe('untagged-instance dry-run and offline', () => {
  it('dry-run reads the instances and reports, writing nothing', async () => {
    fakeEc2();

    const { record } = await runSample(untaggedInstance, TWO, { mode: 'dry-run' });

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(CreateTagsCommand, 0);
    expect(record).toMatchObject({
      outcome: 'would-remediate',
      actions: [{ status: 'planned', resource: FIRST, params: { Resources: [FIRST, SECOND] }, previous: { Tags: { Name: 'example-load-test' } } }],
    });
    expect(record.actions).toHaveLength(1);
  });

  it('offline makes no AWS call at all', async () => {
    const { record } = await runSample(untaggedInstance, TWO, { mode: 'offline' });

    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ status: 'planned', params: { Resources: [FIRST, SECOND] } }] });
    expect(record.actions[0]).not.toHaveProperty('previous');
    expect(ec2.calls()).toHaveLength(0);
  });
});
