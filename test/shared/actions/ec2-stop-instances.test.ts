import { DescribeInstancesCommand, EC2Client, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stepOf, type AnyActionType, type SelfSignature, type Step } from '../../../shared/actions/action.js';
import { startInstances } from '../../../shared/actions/ec2-start-instances.js';
import { stopInstances, stopInstancesSignature } from '../../../shared/actions/ec2-stop-instances.js';
import { reversalLines } from '../../../shared/actions/reversal.js';
import type { InstanceParams, StopPrevious } from '../../../shared/ec2/tag-actions.js';
import { AwsCallError } from '../../../shared/errors.js';
import { sampleConfig } from '../../helpers/samples.js';
import { record } from '../../helpers/records.js';

const ec2 = mockClient(EC2Client);
const clients = { ec2: new EC2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }) };
const ID = 'i-0123456789abcdef0';
const RESOURCE = { type: 'AWS::EC2::Instance', id: ID };
const PREVIOUS = { State: 'running', Tags: { Name: 'web' } };
const asType: AnyActionType = stopInstances;
const asSignature: SelfSignature = stopInstancesSignature;

/** A validated step; `previous: null` plans none. */
const stepFor = (params: unknown = { InstanceIds: [ID] }, previous: unknown = PREVIOUS, region = 'eu-west-1') =>
  stepOf(stopInstances, { api: stopInstances.api, resource: RESOURCE, params, ...(previous === null ? {} : { previous }) }, region) as Step<
    InstanceParams,
    StopPrevious
  >;

/** The instance as DescribeInstances reads it; undefined: not found. */
function instanceIs(now: { state: string; tags?: Record<string, string> } | undefined): void {
  ec2.on(DescribeInstancesCommand).resolves({
    Reservations: now
      ? [{ Instances: [{ InstanceId: ID, State: { Name: now.state }, Tags: Object.entries(now.tags ?? {}).map(([Key, Value]) => ({ Key, Value })) }] }]
      : [],
  } as never);
}

beforeEach(() => {
  ec2.reset();
  ec2.rejects(new Error('unexpected EC2 call'));
});
afterEach(() => ec2.reset());

describe('EC2.StopInstances params', () => {
  it.each([
    ['two instances', { InstanceIds: [ID, 'i-0fedcba9876543210'] }],
    ['none', { InstanceIds: [] }],
    ['a volume id', { InstanceIds: ['vol-0aaaaaaaaaaaaaaa1'] }],
    ['a hostile id', { InstanceIds: ["i-0123456789abcdef0';reboot;'"] }],
    ['an extra field', { InstanceIds: [ID], Force: true }],
  ])('refuses %s: it stops exactly one instance', (_, params) => {
    expect(v.safeParse(stopInstances.params, params).success).toBe(false);
    expect(() => stepFor(params)).toThrow(expect.objectContaining({ kind: 'invalid', code: 'InvalidActionParams' }));
  });
});

describe('EC2.StopInstances perform and verify', () => {
  it('stops the instance when it holds no tag it did not hold when decided', async () => {
    instanceIs({ state: 'running', tags: { Name: 'web' } });
    ec2.on(StopInstancesCommand).resolves({});

    await stopInstances.perform(stepFor(), clients);

    expect(ec2.commandCalls(StopInstancesCommand).map((c) => c.args[0].input)).toEqual([{ InstanceIds: [ID] }]);
  });

  it('does not stop an instance tagged since it was decided: transient, naming the key', async () => {
    instanceIs({ state: 'running', tags: { Name: 'web', Owner: 'someone' } });

    await expect(stopInstances.perform(stepFor(), clients)).rejects.toMatchObject({
      kind: 'transient',
      code: 'TagAddedSinceInspect',
      detail: 'Owner',
      resource: ID,
    });
    expect(ec2.commandCalls(StopInstancesCommand)).toHaveLength(0);
  });

  it('never stops on tags that were not read', async () => {
    expect(stepFor({ InstanceIds: [ID] }, null).previous).toBeUndefined();
    await expect(stopInstances.perform(stepFor({ InstanceIds: [ID] }, null), clients)).rejects.toThrow(AwsCallError);
    await expect(stopInstances.perform(stepFor({ InstanceIds: [ID] }, { State: 'running' }), clients)).rejects.toMatchObject({
      kind: 'invalid',
      code: 'NoPreviousTags',
    });
    expect(ec2.calls()).toHaveLength(0);
  });

  it.each(['stopping', 'stopped'])('reads back a %s instance as stopped', async (state) => {
    instanceIs({ state });
    expect(await stopInstances.verify(stepFor(), clients)).toEqual({ ok: true, detail: `${ID} is ${state}` });
  });

  it('does not verify an instance still running or not found', async () => {
    instanceIs({ state: 'running' });
    expect(await stopInstances.verify(stepFor(), clients)).toEqual({ ok: false, detail: `${ID} is running after StopInstances` });
    ec2.reset();
    instanceIs(undefined);
    expect(await stopInstances.verify(stepFor(), clients)).toEqual({ ok: false, detail: `${ID} is not found after StopInstances` });
  });
});

describe('EC2.StopInstances reverse, command, signature', () => {
  it('is reversed by hand: a start, once the instance is tagged', () => {
    expect(asType.reverse(stepFor(undefined, undefined, 'ap-south-1'))).toEqual({
      kind: 'manual',
      why: 'starting it again is left to a person: it was stopped for lacking required tags, tag it first',
      steps: [
        {
          type: startInstances,
          action: { api: 'EC2.StartInstances', resource: { ...RESOURCE, region: 'ap-south-1' }, params: { InstanceIds: [ID] }, previous: { State: 'stopped' } },
        },
      ],
    });
  });

  it('gives the notification the start command, by hand', () => {
    const stopped = record({
      rule: 'untagged-instance',
      resources: [RESOURCE],
      actions: [
        {
          api: 'EC2.StopInstances',
          status: 'done',
          resource: ID,
          params: { InstanceIds: [ID] },
          previous: PREVIOUS,
          verification: { ok: true, detail: `${ID} is stopping` },
        },
      ],
    });
    expect(reversalLines([stopInstances], stopped)).toEqual([
      `To reverse by hand (starting it again is left to a person: it was stopped for lacking required tags, tag it first): aws ec2 start-instances --region 'eu-west-1' --instance-ids '${ID}'`,
    ]);
  });

  it('gives a complete command, and none for a hostile id or Region', () => {
    expect(stopInstances.command(stepFor())).toBe(`aws ec2 stop-instances --region 'eu-west-1' --instance-ids '${ID}'`);
    expect(
      stopInstances.command({ api: stopInstances.api, resource: RESOURCE, params: { InstanceIds: ['i-`id`'] }, previous: undefined, region: 'eu-west-1' }),
    ).toBe('no command: the instance id in the event is not a valid instance id');
    expect(stopInstances.command({ ...stepFor(), region: 'eu west 1' })).toBe('no command: the region in the event is not a valid region');
  });

  it('says what it does, needs ec2:StopInstances, and does not retrigger a rule', () => {
    expect(stopInstances.describe(stepFor())).toBe(`stop ${ID} (never terminate: its disks and data are kept)`);
    expect(stopInstances).toMatchObject({ api: 'EC2.StopInstances', iam: 'ec2:StopInstances', clients: ['ec2'], retriggers: false });
    expect(stopInstances.signature).toBe(stopInstancesSignature);
  });

  it('signs a stop as its own only for the enforcement check', () => {
    const config = sampleConfig();
    expect(stopInstancesSignature).toMatchObject({ api: 'EC2.StopInstances', eventName: 'StopInstances' });
    expect(asSignature.isOwnWrite({ instancesSet: { items: [{ instanceId: ID }] } }, { enforces: true, config })).toBe(true);
    expect(asSignature.isOwnWrite({ instancesSet: { items: [{ instanceId: ID }] } }, { enforces: false, config })).toBe(false);
  });
});
