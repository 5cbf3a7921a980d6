import {
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeTagsCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type Instance,
  type Tag,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { untaggedInstance } from '../../functions/untagged-instance/rule.js';
import { createTags } from '../../shared/actions/ec2-create-tags.js';
import { createSchedule } from '../../shared/actions/scheduler-create-schedule.js';
import { lambdaDeps } from '../../shared/runner/lambda.js';
import { run } from '../../shared/runner/run.js';
import { ACCOUNT, aws, REGION } from './helpers/emulator.js';
import { sampleEvent, tagSet, type Envelope } from './helpers/events.js';
import { freshStackPerTest } from './helpers/stack.js';
import { invokeHandler, replayCli, withLambdaEnv } from './helpers/invoke.js';

const OWNER = `arn:aws:iam::${ACCOUNT}:user/dave`;

const stack = freshStackPerTest();
const env = stack.env;

/** Instances launched in one call with only the given tags (no Owner unless given). */
async function launch(count: number, tags: Tag[] = [{ Key: 'Name', Value: 'example-load-test' }]): Promise<Instance[]> {
  const answer = await aws.ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-0123456789abcdef0',
      InstanceType: 't3.micro',
      MinCount: count,
      MaxCount: count,
      // EC2 refuses a tag specification without tags: launching untagged means sending none.
      ...(tags.length > 0 ? { TagSpecifications: [{ ResourceType: 'instance', Tags: tags }] } : {}),
    }),
  );
  return answer.Instances ?? [];
}

/** The RunInstances record of that call: the sample's shape, with the ids and tags EC2 answered. */
function runEvent(sample: string, instances: readonly Instance[], tags: Tag[] = [{ Key: 'Name', Value: 'example-load-test' }]): Envelope {
  const event = sampleEvent('untagged-instance', sample);
  const request = event.detail.requestParameters as Record<string, unknown>;
  const response = event.detail.responseElements as { instancesSet: { items: Record<string, unknown>[] } };
  const template = response.instancesSet.items[0] ?? {};
  request.tagSpecificationSet = { items: [{ resourceType: 'instance', tags: tags.map((t) => ({ key: t.Key, value: t.Value })) }] };
  response.instancesSet.items = instances.map((instance, index) => ({
    ...template,
    instanceId: instance.InstanceId,
    amiLaunchIndex: index,
    tagSet: tagSet(instance.Tags),
  }));
  return event;
}

/** A resource's tags as read now (DescribeTags), by key. */
async function tagsOf(id: string): Promise<Record<string, string>> {
  const answer = await aws.ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [id] }] }));
  return Object.fromEntries((answer.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
}

const idsOf = (instances: readonly Instance[]) => instances.map((i) => i.InstanceId ?? '');
const volumesOf = (instances: readonly Instance[]) => instances.flatMap((i) => (i.BlockDeviceMappings ?? []).map((m) => m.Ebs?.VolumeId ?? ''));
const attributesFor = (outcome: string, severity = 'LOW') => ({ rule: 'untagged-instance', severity, outcome, account: ACCOUNT });

describe('untagged-instance against the emulator: two instances launched without Owner', () => {
  it('live handler: tags each with Owner and trailguard:tagged-at, keeps Name, leaves volumes alone, notifies once; a redelivery is a no-op', async () => {
    const instances = await launch(2);
    const ids = idsOf(instances);
    const event = runEvent('would-remediate.two-instances-one-call', instances);

    const { record } = await invokeHandler('untagged-instance', event, env('live'));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'LOW',
      resources: ids.map((id) => ({ id })),
      // One CreateTags for both (the same missing tags), read back on each.
      actions: [
        {
          api: 'EC2.CreateTags',
          status: 'done',
          resource: ids[0],
          params: {
            Resources: ids,
            Tags: [
              { Key: 'Owner', Value: OWNER },
              { Key: 'trailguard:tagged-at', Value: event.detail.eventTime },
            ],
          },
          previous: { Tags: { Name: 'example-load-test' }, TagsByResource: Object.fromEntries(ids.map((id) => [id, { Name: 'example-load-test' }])) },
          verification: { ok: true },
        },
      ],
      notification: { status: 'sent' },
    });
    for (const id of ids) expect(await tagsOf(id)).toEqual({ Name: 'example-load-test', Owner: OWNER, 'trailguard:tagged-at': event.detail.eventTime });
    for (const volume of volumesOf(instances)) expect(await tagsOf(volume)).toEqual({}); // tagVolumes is off by default
    const subject = `[LOW] Tagged 2 EC2 instances in ${ACCOUNT}/${REGION}`;
    expect(await stack.received()).toMatchObject([
      { subject, attributes: attributesFor('remediated'), message: { subject, record: { outcome: 'remediated' } } },
    ]);

    await aws.ec2.send(new DeleteTagsCommand({ Resources: ids, Tags: [{ Key: 'Owner' }] }));
    const second = await invokeHandler('untagged-instance', event, env('live'));

    expect(second.record).toMatchObject({ outcome: 'ignored', actions: [] });
    expect(second.record.reason).toMatch(/^duplicate delivery of event .*: already handled as remediated/);
    expect(await tagsOf(ids[0] ?? '')).not.toHaveProperty('Owner');
    expect(await stack.received()).toEqual([]);
  });

  it('live replay CLI: the console launch of one instance is tagged the same way', async () => {
    const instances = await launch(1, []);
    const [id = ''] = idsOf(instances);
    const event = runEvent('would-remediate.console-iam-user-no-tags', instances, []);
    const owner = (event.detail.userIdentity as { arn: string }).arn;

    const { exit, records } = await replayCli(event, env('live'));

    expect(exit).toBe(0);
    expect(records).toMatchObject([
      { outcome: 'remediated', actions: [{ resource: id, status: 'done', verification: { ok: true } }], notification: { status: 'sent' } },
    ]);
    expect(await tagsOf(id)).toEqual({ Owner: owner, 'trailguard:tagged-at': event.detail.eventTime });
    expect(await stack.received()).toMatchObject([
      { subject: `[LOW] Tagged EC2 instance ${id} in ${ACCOUNT}/${REGION}`, attributes: attributesFor('remediated') },
    ]);
  });

  it.each(['handler', 'replay CLI'] as const)('dry-run (%s): plans the tags, notifies, and tags nothing', async (via) => {
    const instances = await launch(2);
    const event = runEvent('would-remediate.two-instances-one-call', instances);

    const record =
      via === 'handler' ? (await invokeHandler('untagged-instance', event, env('dry-run'))).record : (await replayCli(event, env('dry-run'))).records[0];

    expect(record).toMatchObject({
      outcome: 'would-remediate',
      actions: [{ status: 'planned', resource: idsOf(instances)[0], params: { Resources: idsOf(instances) } }],
    });
    for (const id of idsOf(instances)) expect(await tagsOf(id)).toEqual({ Name: 'example-load-test' });
    expect(await stack.received()).toMatchObject([{ attributes: attributesFor('would-remediate') }]);
  });

  it('live with tagVolumes: the attached EBS volumes get the same tags', async () => {
    const instances = await launch(1);
    const [volume = ''] = volumesOf(instances);
    const event = runEvent('would-remediate.two-instances-one-call', instances);

    const { record } = await invokeHandler('untagged-instance', event, env('live', { rules: { 'untagged-instance': { tagVolumes: true } } }));

    expect(record).toMatchObject({
      outcome: 'remediated',
      actions: [{ resource: idsOf(instances)[0] }, { resource: volume, status: 'done', verification: { ok: true } }],
    });
    expect(await tagsOf(volume)).toEqual({ Owner: OWNER, 'trailguard:tagged-at': event.detail.eventTime });
  });
});

describe.each(['live', 'dry-run'] as const)('untagged-instance against the emulator, other outcomes (%s)', (mode) => {
  it('compliant: launched with Owner', async () => {
    const tags = [{ Key: 'Owner', Value: 'team-data' }];
    const instances = await launch(1, tags);

    const { record } = await invokeHandler('untagged-instance', runEvent('compliant.cli-owner-tag-at-launch', instances, tags), env(mode));

    expect(record).toMatchObject({ outcome: 'compliant', actions: [] });
    expect(await tagsOf(idsOf(instances)[0] ?? '')).toEqual({ Owner: 'team-data' });
  });

  it('exempt: an instance exempt by id stays untagged', async () => {
    const instances = await launch(1);
    const [id = ''] = idsOf(instances);

    const { record } = await invokeHandler(
      'untagged-instance',
      runEvent('would-remediate.two-instances-one-call', instances),
      env(mode, {
        exemptions: [{ rule: 'untagged-instance', resource: id, reason: 'AMI bake instance (ticket OPS-1)' }],
      }),
    );

    expect(record).toMatchObject({ outcome: 'exempt', actions: [], exemptions: [{ resource: id }] });
    expect(await tagsOf(id)).toEqual({ Name: 'example-load-test' });
  });

  it('ignored, not failed: the instances were terminated before the event was handled', async () => {
    const instances = await launch(2);
    await aws.ec2.send(new TerminateInstancesCommand({ InstanceIds: idsOf(instances) }));

    const { record } = await invokeHandler('untagged-instance', runEvent('would-remediate.two-instances-one-call', instances), env(mode));

    expect(record).toMatchObject({
      outcome: 'ignored',
      actions: [],
      reason: expect.stringMatching(/^no instance of this launch is left to tag \(skipped: i-\w+ is terminated; i-\w+ is terminated\)/),
    });
    expect(await stack.received()).toEqual([]);
  });

  it('ignored, not failed: an instance id the account does not have (terminated and purged)', async () => {
    const instances = [{ InstanceId: 'i-0123456789abcdef0' }];
    // Launched two hours ago: long past EC2's visibility lag (a fresh launch not yet visible is retried instead).
    const event = runEvent('would-remediate.two-instances-one-call', instances);
    event.detail.eventTime = new Date(Date.now() - 2 * 3_600_000).toISOString();

    const { record } = await invokeHandler('untagged-instance', event, env(mode));

    expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('i-0123456789abcdef0 not found (terminated and purged)') });
  });

  it('ignored: a launch that failed (UnauthorizedOperation) created nothing, and the deployed pattern does not route it', async () => {
    const event = sampleEvent('untagged-instance', 'ignored.failed-unauthorized-operation');

    const { record } = await invokeHandler('untagged-instance', event, env(mode));

    expect(record).toMatchObject({ outcome: 'ignored', actions: [], reason: 'ec2.amazonaws.com RunInstances does not match the untagged-instance pattern' });
  });

  it('alerted: a required tag with no known value (CostCenter) cannot be filled; a person is told', async () => {
    const tags = [{ Key: 'Owner', Value: 'team-data' }];
    const instances = await launch(1, tags);
    const [id = ''] = idsOf(instances);

    const { record } = await invokeHandler(
      'untagged-instance',
      runEvent('compliant.cli-owner-tag-at-launch', instances, tags),
      env(mode, {
        rules: { 'untagged-instance': { requiredTags: ['Owner', 'CostCenter'] } },
      }),
    );

    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'MEDIUM',
      actions: [],
      reason: expect.stringContaining(`${id} lacks CostCenter; no value known for CostCenter`),
    });
    expect(await tagsOf(id)).toEqual({ Owner: 'team-data' });
    expect(await stack.received()).toMatchObject([{ attributes: attributesFor('alerted', 'MEDIUM') }]);
  });
});

describe('untagged-instance against the emulator: faults', () => {
  it('compliant: Owner was added by a person after the launch, before the event was handled (the rule reads the instance, not the event)', async () => {
    const instances = await launch(1);
    const [id = ''] = idsOf(instances);
    await aws.ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'Owner', Value: 'set-by-a-person' }] }));

    const { record } = await invokeHandler('untagged-instance', runEvent('would-remediate.two-instances-one-call', instances), env('live'));

    expect(record).toMatchObject({ outcome: 'compliant', actions: [] });
    expect(await tagsOf(id)).toEqual({ Name: 'example-load-test', Owner: 'set-by-a-person' });
  });

  it('a tag added between the read and the write is not overwritten: the event fails as transient, to be retried and decided again', async () => {
    const instances = await launch(1);
    const [id = ''] = idsOf(instances);
    const racingTags: typeof createTags = {
      ...createTags,
      perform: async (step, clients) => {
        await aws.ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'Owner', Value: 'set-by-a-person' }] }));
        return createTags.perform(step, clients);
      },
    };
    const racing: typeof untaggedInstance = { ...untaggedInstance, actions: [racingTags, createSchedule] };

    const record = await withLambdaEnv(env('live'), () => run(racing, runEvent('would-remediate.two-instances-one-call', instances), lambdaDeps()));

    expect(record).toMatchObject({ outcome: 'failed', error: { kind: 'transient', code: 'TagAddedSinceInspect' }, notification: { status: 'deferred' } });
    expect(await tagsOf(id)).toEqual({ Name: 'example-load-test', Owner: 'set-by-a-person' });
  });
});
