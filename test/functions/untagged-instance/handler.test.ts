import {
  CreateTagsCommand, DescribeInstancesCommand, DescribeTagsCommand, EC2Client,
  type CreateTagsCommandInput, type DescribeInstancesCommandInput, type DescribeTagsCommandInput,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { untaggedInstance } from '../../../functions/untagged-instance/rule.js';
import { TAGGED_AT_KEY } from '../../../shared/ec2/tags.js';
import { runSample, sampleConfig } from '../../helpers/samples.js';

const ec2 = mockClient(EC2Client);
const ACCOUNT = '111122223333';
const TWO = 'would-remediate.two-instances-one-call';
const [FIRST, SECOND] = ['i-0c1d2e3f4a5b60718', 'i-0c1d2e3f4a5b60719'];
const DAVE = `arn:aws:iam::${ACCOUNT}:user/dave`;
const TAGGED_AT = '2026-11-20T09:19:00.000Z'; // the event time, not the clock

/** A small in-memory EC2: instances with state and volumes, tags per resource; CreateTags writes into it. */
interface FakeInstance { state: string; volumes?: string[] }
let instances: Record<string, FakeInstance>;
let tags: Record<string, Record<string, string>>;

const valuesOf = (input: { Filters?: { Name?: string; Values?: string[] }[] }, name: string) =>
  input.Filters?.find((f) => f.Name === name)?.Values ?? [];

function fakeEc2(): void {
  ec2.on(DescribeInstancesCommand).callsFake((input: DescribeInstancesCommandInput) => ({
    Reservations: [{
      Instances: valuesOf(input, 'instance-id').filter((id) => instances[id]).map((id) => ({
        InstanceId: id,
        State: { Name: instances[id]?.state },
        Tags: Object.entries(tags[id] ?? {}).map(([Key, Value]) => ({ Key, Value })),
        BlockDeviceMappings: (instances[id]?.volumes ?? []).map((VolumeId, i) => ({ DeviceName: `/dev/xvd${'abc'[i]}`, Ebs: { VolumeId } })),
      })),
    }],
  }));
  ec2.on(DescribeTagsCommand).callsFake((input: DescribeTagsCommandInput) => ({
    Tags: valuesOf(input, 'resource-id').flatMap((ResourceId) =>
      Object.entries(tags[ResourceId] ?? {}).map(([Key, Value]) => ({ ResourceId, Key, Value }))),
  }));
  ec2.on(CreateTagsCommand).callsFake((input: CreateTagsCommandInput) => {
    for (const id of input.Resources ?? []) {
      if (!instances[id] && !id.startsWith('vol-')) throw Object.assign(new Error(`The instance ID '${id}' does not exist`), { name: 'InvalidInstanceID.NotFound' });
      tags[id] = { ...tags[id], ...Object.fromEntries((input.Tags ?? []).map((t) => [t.Key, t.Value])) };
    }
    return {};
  });
}

beforeEach(() => {
  ec2.reset();
  ec2.rejects(new Error('unexpected EC2 call')); // unmocked calls fail loudly
  instances = { [FIRST]: { state: 'running' }, [SECOND]: { state: 'pending' } };
  tags = { [FIRST]: { Name: 'example-load-test' }, [SECOND]: { Name: 'example-load-test' } };
});
afterEach(() => ec2.reset());

describe('untagged-instance live', () => {
  it('tags each untagged instance with only the missing keys and reads them back', async () => {
    fakeEc2();

    const { record, deps } = await runSample(untaggedInstance, TWO, { mode: 'live' });

    expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, { Filters: [{ Name: 'instance-id', Values: [FIRST, SECOND] }] });
    expect(ec2).toHaveReceivedCommandTimes(CreateTagsCommand, 2);
    for (const id of [FIRST, SECOND]) {
      expect(ec2).toHaveReceivedCommandWith(CreateTagsCommand, {
        Resources: [id], Tags: [{ Key: 'Owner', Value: DAVE }, { Key: TAGGED_AT_KEY, Value: TAGGED_AT }],
      });
      expect(tags[id]).toEqual({ Name: 'example-load-test', Owner: DAVE, [TAGGED_AT_KEY]: TAGGED_AT });
    }
    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'LOW',
      actions: [
        { api: 'EC2.CreateTags', resource: FIRST, status: 'done', previous: { Tags: { Name: 'example-load-test' } }, verification: { ok: true, detail: `Owner=${DAVE}, ${TAGGED_AT_KEY}=${TAGGED_AT} read back on ${FIRST}` } },
        { api: 'EC2.CreateTags', resource: SECOND, status: 'done', verification: { ok: true } },
      ],
    });
    expect(deps.published[0]?.subject).toMatch(/^\[LOW\] Tagged 2 EC2 instances/);
    expect(deps.published[0]?.text).toContain(`aws ec2 delete-tags --resources ${FIRST} --tags Key=Owner Key=${TAGGED_AT_KEY}`);
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

  it('ends as ignored when CreateTags finds the instance gone', async () => {
    fakeEc2();
    // Visible to DescribeInstances, purged by the time of the write.
    ec2.on(CreateTagsCommand).rejects(Object.assign(new Error('does not exist'), { name: 'InvalidInstanceID.NotFound', $metadata: { httpStatusCode: 400 } }));

    const { record } = await runSample(untaggedInstance, TWO, { mode: 'live' });

    expect(ec2).toHaveReceivedCommandTimes(CreateTagsCommand, 2);
    expect(record).toMatchObject({
      outcome: 'ignored',
      reason: expect.stringContaining('already gone when acting'),
      actions: [{ status: 'done', verification: { ok: true, detail: 'already gone (InvalidInstanceID.NotFound)' } }, { status: 'done' }],
    });
    expect(record.error).toBeNull();
  });

  it('tags the attached volumes with their own missing keys when tagVolumes is on', async () => {
    instances[FIRST] = { state: 'running', volumes: ['vol-0aaaaaaaaaaaaaaa1'] };
    tags[SECOND] = { Owner: 'kept' };
    tags['vol-0aaaaaaaaaaaaaaa1'] = { [TAGGED_AT_KEY]: 'from an earlier run' };
    fakeEc2();
    const config = sampleConfig({ rules: { 'untagged-instance': { tagVolumes: true } } });

    const { record } = await runSample(untaggedInstance, TWO, { mode: 'live', config });

    expect(ec2).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: ['vol-0aaaaaaaaaaaaaaa1'], Tags: [{ Key: 'Owner', Value: DAVE }] });
    expect(ec2).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: [FIRST], Tags: [{ Key: 'Owner', Value: DAVE }, { Key: TAGGED_AT_KEY, Value: TAGGED_AT }] });
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
    ec2.on(CreateTagsCommand).rejects(Object.assign(new Error('You are not authorized'), { name: 'UnauthorizedOperation', $metadata: { httpStatusCode: 403 } }));

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

describe('untagged-instance dry-run and offline', () => {
  it('dry-run reads the instances and reports, writing nothing', async () => {
    fakeEc2();

    const { record } = await runSample(untaggedInstance, TWO, { mode: 'dry-run' });

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(CreateTagsCommand, 0);
    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ status: 'planned', resource: FIRST }, { status: 'planned', resource: SECOND }] });
  });

  it('offline makes no AWS call at all', async () => {
    const { record } = await runSample(untaggedInstance, TWO, { mode: 'offline' });

    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ status: 'planned', params: { Resources: [FIRST] } }, { status: 'planned', params: { Resources: [SECOND] } }] });
    expect(ec2.calls()).toHaveLength(0);
  });
});
