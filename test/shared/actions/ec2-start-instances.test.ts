import { DescribeInstancesCommand, EC2Client, StartInstancesCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stepOf, type AnyActionType, type Step } from '../../../shared/actions/action.js';
import { startInstances } from '../../../shared/actions/ec2-start-instances.js';
import type { InstanceParams, StartPrevious } from '../../../shared/ec2/tag-actions.js';

const ec2 = mockClient(EC2Client);
const clients = { ec2: new EC2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }) };
const ID = 'i-0123456789abcdef0';
const RESOURCE = { type: 'AWS::EC2::Instance', id: ID };
const asType: AnyActionType = startInstances;

const stepFor = (params: unknown = { InstanceIds: [ID] }, region = 'eu-west-1') =>
  stepOf(startInstances, { api: startInstances.api, resource: RESOURCE, params, previous: { State: 'stopped' } }, region) as Step<
    InstanceParams,
    StartPrevious
  >;

const instanceIs = (state: string) =>
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: ID, State: { Name: state } }] }] } as never);

beforeEach(() => {
  ec2.reset();
  ec2.rejects(new Error('unexpected EC2 call'));
});
afterEach(() => ec2.reset());

describe('EC2.StartInstances', () => {
  it('takes one instance id and refuses anything else before any call', () => {
    expect(stepFor().params).toEqual({ InstanceIds: [ID] });
    for (const params of [{ InstanceIds: ['i-$(reboot)'] }, { InstanceIds: [ID, ID] }, { InstanceIds: [ID], AdditionalInfo: 'x' }]) {
      expect(v.safeParse(startInstances.params, params).success).toBe(false);
      expect(() => stepFor(params)).toThrow(expect.objectContaining({ kind: 'invalid' }));
    }
    expect(ec2.calls()).toHaveLength(0);
  });

  it('starts the instance and reads it back as pending or running', async () => {
    ec2.on(StartInstancesCommand).resolves({});
    instanceIs('pending');

    await startInstances.perform(stepFor(), clients);

    expect(ec2.commandCalls(StartInstancesCommand).map((c) => c.args[0].input)).toEqual([{ InstanceIds: [ID] }]);
    expect(await startInstances.verify(stepFor(), clients)).toEqual({ ok: true, detail: `${ID} is pending` });
  });

  it('does not verify an instance that is still stopped', async () => {
    instanceIs('stopped');
    expect(await startInstances.verify(stepFor(), clients)).toEqual({ ok: false, detail: `${ID} is stopped after StartInstances` });
  });

  it('is not reversed, gives a complete command, needs ec2:StartInstances and does not retrigger a rule', () => {
    expect(asType.reverse(stepFor())).toMatchObject({ kind: 'none' });
    expect(startInstances.command(stepFor(undefined, 'eu-central-2'))).toBe(`aws ec2 start-instances --region 'eu-central-2' --instance-ids '${ID}'`);
    expect(
      startInstances.command({ api: startInstances.api, resource: RESOURCE, params: { InstanceIds: ["i-1'"] }, previous: undefined, region: 'eu-west-1' }),
    ).toBe('no command: the instance id in the event is not a valid instance id');
    expect(startInstances).toMatchObject({ api: 'EC2.StartInstances', iam: 'ec2:StartInstances', clients: ['ec2'], retriggers: false });
    expect(startInstances).not.toHaveProperty('signature');
    expect(startInstances.describe(stepFor())).toBe(`start ${ID} again`);
  });
});
