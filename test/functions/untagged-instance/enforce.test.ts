import { DescribeInstancesCommand, EC2Client, StopInstancesCommand, type DescribeInstancesCommandInput } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readEnforceInput, unreadableEnforceInput, untaggedInstanceEnforce } from '../../../functions/untagged-instance/enforce.js';
import type { Config, Mode } from '../../../shared/config.js';
import { AwsCallError } from '../../../shared/errors.js';
import { parseEnvelope, wrapRecord } from '../../../shared/events/schema.js';
import { lambdaScheduledRunner } from '../../../shared/runner/lambda.js';
import { capturingDeps, sampleConfig, type CapturingDeps } from '../../helpers/samples.js';

const ec2 = mockClient(EC2Client);
const ACCOUNT = '111122223333';
const ID = 'i-0123456789abcdef0';
const NAME = `trailguard-enforce-${ID}-cec6af05cf`;
/** What the tagging Lambda put in the schedule's Input for the alice launch (see enforcement.test.ts). */
const INPUT = { instanceId: ID, region: 'eu-west-1', account: ACCOUNT, requiredTags: ['Owner'], sourceEventId: '6e1f2a3b-0000-4000-8000-000000000101' };
const FIRED = '2026-11-20T10:16:20.000Z';

/** A small EC2: the instance's state and tags as each DescribeInstances sees them (the last entry repeats). */
let reads: { state: string; tags: Record<string, string> }[];
let stops: string[][];

function fakeEc2(): void {
  let read = 0;
  ec2.on(DescribeInstancesCommand).callsFake((input: DescribeInstancesCommandInput) => {
    const now = reads[Math.min(read, reads.length - 1)];
    read += 1;
    const found = now && (input.Filters?.[0]?.Values ?? []).includes(ID);
    return {
      Reservations: found
        ? [{ Instances: [{ InstanceId: ID, State: { Name: now.state }, Tags: Object.entries(now.tags).map(([Key, Value]) => ({ Key, Value })) }] }]
        : [],
    };
  });
  ec2.on(StopInstancesCommand).callsFake((input: { InstanceIds: string[] }) => {
    stops.push(input.InstanceIds);
    reads = reads.map((r) => ({ ...r, state: 'stopping' }));
    return { StoppingInstances: [{ InstanceId: ID, CurrentState: { Name: 'stopping' }, PreviousState: { Name: 'running' } }] };
  });
}

function check(options: { mode?: Mode; config?: Config } = {}): { handle: (input: unknown) => Promise<unknown>; deps: CapturingDeps } {
  const deps = { ...capturingDeps({ mode: options.mode ?? 'live', ...(options.config ? { config: options.config } : {}) }), now: () => Date.parse(FIRED) };
  const handle = lambdaScheduledRunner(untaggedInstanceEnforce, { read: readEnforceInput, unreadable: unreadableEnforceInput }, () => deps);
  return { handle, deps };
}

const enforcementOn = (rule: Record<string, unknown> = {}) => sampleConfig({ rules: { 'untagged-instance': { enforcement: { enabled: true }, ...rule } } });

beforeEach(() => {
  ec2.reset();
  ec2.rejects(new Error('unexpected EC2 call')); // TerminateInstances, or anything else, fails the test
  reads = [{ state: 'running', tags: { Name: 'example-web' } }];
  stops = [];
});
afterEach(() => ec2.reset());

describe('untagged-instance enforcement check, live', () => {
  it('stops a running instance that still lacks Owner with exactly StopInstances, and reads the stop back', async () => {
    fakeEc2();
    const { handle, deps } = check({ config: enforcementOn() });

    await handle(INPUT);

    expect(ec2.commandCalls(StopInstancesCommand).map((call) => call.args[0].input)).toEqual([{ InstanceIds: [ID] }]);
    expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, { Filters: [{ Name: 'instance-id', Values: [ID] }] });
    expect(ec2.calls().map((call) => call.args[0].constructor.name)).toEqual([
      'DescribeInstancesCommand',
      'DescribeInstancesCommand',
      'StopInstancesCommand',
      'DescribeInstancesCommand',
    ]);
    expect(deps.written).toHaveLength(1);
    expect(deps.written[0]).toMatchObject({
      rule: 'untagged-instance',
      outcome: 'remediated',
      severity: 'HIGH',
      mode: 'live',
      trigger: 'schedule',
      // The schedule's finding: named by the schedule, in the launch's account and Region; no CloudTrail call is
      // invented (no call, caller or call time), so the scheduler is no violator and there is no exposure figure.
      eventId: NAME,
      eventName: null,
      eventSource: null,
      eventTime: null,
      errorCode: null,
      account: ACCOUNT,
      region: 'eu-west-1',
      actor: null,
      actorType: null,
      sourceIp: null,
      userAgent: null,
      exposureMs: null,
      resources: [{ type: 'AWS::EC2::Instance', id: ID }],
      actions: [
        {
          api: 'EC2.StopInstances',
          resource: ID,
          status: 'done',
          params: { InstanceIds: [ID] },
          previous: { State: 'running', Tags: { Name: 'example-web' } },
          verification: { ok: true, detail: `${ID} is stopping` },
        },
      ],
      reason: expect.stringContaining(`${ID} still lacks Owner after the grace period and is running (launch event 6e1f2a3b-0000-4000-8000-000000000101)`),
    });
    const [notification] = deps.published;
    expect(notification?.subject).toBe(`[HIGH] Stopped untagged EC2 instance ${ID} in ${ACCOUNT}/eu-west-1`);
    expect(notification?.text).toContain('stops (never terminates) instances still missing a required tag after the grace period');
    expect(notification?.text).toContain(`aws ec2 create-tags --region 'eu-west-1' --resources '${ID}' --tags Key=<key>,Value=<value>`);
    // The start is the stop's reversal, from the action type (as report and undo print it), left to a person.
    expect(notification?.text).toContain(
      `To reverse by hand (starting it again is left to a person: it was stopped for lacking required tags, tag it first): aws ec2 start-instances --region 'eu-west-1' --instance-ids '${ID}'`,
    );
  });

  it.each([
    [
      'an Auto Scaling group',
      'aws:autoscaling:groupName',
      'example-web-asg',
      'AWS::AutoScaling::AutoScalingGroup',
      'Auto Scaling group with PropagateAtLaunch',
    ],
    ['a Spot Fleet', 'aws:ec2spot:fleet-request-id', 'sfr-0a1b2c3d-0000-4000-8000-000000000001', 'AWS::EC2::SpotFleet', 'Spot Fleet request'],
    ['an EC2 Fleet', 'aws:ec2:fleet-id', 'fleet-0a1b2c3d-0000-4000-8000-000000000001', 'AWS::EC2::EC2Fleet', 'EC2 Fleet'],
    ['an EKS node group', 'eks:cluster-name', 'example-cluster', 'AWS::EKS::Cluster', "node group's launch template"],
    ['EKS (aws: tag)', 'aws:eks:cluster-name', 'example-cluster', 'AWS::EKS::Cluster', "node group's launch template"],
  ])('never stops a member of %s (it would be terminated and replaced): alerts with what to do instead', async (_, key, value, type, fix) => {
    reads = [{ state: 'running', tags: { Name: 'example-web', [key]: value, 'aws:ec2launchtemplate:id': 'lt-0123456789abcdef0' } }];
    fakeEc2();
    const { handle, deps } = check({ config: enforcementOn() });

    await handle(INPUT);

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(StopInstancesCommand, 0);
    expect(stops).toEqual([]);
    expect(deps.written).toHaveLength(1);
    expect(deps.written[0]).toMatchObject({
      outcome: 'alerted',
      severity: 'MEDIUM',
      actions: [],
      resources: [
        { type: 'AWS::EC2::Instance', id: ID },
        { type, id: value },
      ],
      reason: expect.stringContaining(`${ID} still lacks Owner after the grace period and is running`),
    });
    expect(deps.written[0]?.reason).toContain(`NOT stopped: it is managed by`);
    expect(deps.written[0]?.reason).toContain(`(tag ${key}), which would terminate and replace a stopped instance`);
    expect(deps.written[0]?.reason).toContain(fix);
    const [notification] = deps.published;
    expect(notification?.subject).toBe(`[MEDIUM] Untagged EC2 instance ${ID} not stopped in ${ACCOUNT}/eu-west-1`);
    expect(notification?.text).toContain(`${ID} was not stopped: ${type} ${value} would terminate and replace it`);
    expect(notification?.text).toContain(`aws ec2 create-tags --region 'eu-west-1' --resources '${ID}'`);
    expect(notification?.text).not.toContain('start-instances');
  });

  it('still stops an instance whose only managed-looking tag is its launch template', async () => {
    reads = [{ state: 'running', tags: { 'aws:ec2launchtemplate:id': 'lt-0123456789abcdef0', 'aws:ec2launchtemplate:version': '3' } }];
    fakeEc2();
    const { handle, deps } = check({ config: enforcementOn() });

    await handle(INPUT);

    expect(stops).toEqual([[ID]]);
    expect(deps.written[0]).toMatchObject({ outcome: 'remediated', resources: [{ id: ID }], actions: [{ api: 'EC2.StopInstances', status: 'done' }] });
  });

  it('dry-run of an Auto Scaling member alerts too, and plans no stop', async () => {
    reads = [{ state: 'running', tags: { 'aws:autoscaling:groupName': 'example-web-asg' } }];
    fakeEc2();
    const { handle, deps } = check({ mode: 'dry-run', config: enforcementOn() });

    await handle(INPUT);

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(StopInstancesCommand, 0);
    expect(deps.written[0]).toMatchObject({ outcome: 'alerted', actions: [] });
  });

  it('does not stop an instance that was tagged during the grace period', async () => {
    reads = [{ state: 'running', tags: { Owner: 'team-web@example.com' } }];
    fakeEc2();
    const { handle, deps } = check({ config: enforcementOn() });

    await handle(INPUT);

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(StopInstancesCommand, 0);
    expect(deps.written[0]).toMatchObject({ outcome: 'compliant', reason: `${ID} now carries Owner: not stopped` });
  });

  it('does not stop when the tag appears between the read and the stop: the run ends transient and is retried', async () => {
    reads = [
      { state: 'running', tags: {} },
      { state: 'running', tags: { Owner: 'someone' } },
    ];
    fakeEc2();
    const { handle, deps } = check({ config: enforcementOn() });

    await expect(handle(INPUT)).rejects.toThrow(AwsCallError);

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 2);
    expect(ec2).toHaveReceivedCommandTimes(StopInstancesCommand, 0);
    expect(deps.written[0]).toMatchObject({ outcome: 'failed', error: { kind: 'transient', code: 'TagAddedSinceInspect' } });
  });

  it.each([
    ['stopped', `${ID} still lacks Owner but is stopped: nothing to stop`],
    ['stopping', `${ID} still lacks Owner but is stopping: nothing to stop`],
    ['terminated', `${ID} still lacks Owner but is terminated: nothing to stop`],
  ])('does not stop an instance that is already %s', async (state, reason) => {
    reads = [{ state, tags: {} }];
    fakeEc2();
    const { handle, deps } = check({ config: enforcementOn() });

    await handle(INPUT);

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(StopInstancesCommand, 0);
    expect(deps.written[0]).toMatchObject({ outcome: 'ignored', reason });
  });

  it('does not stop an instance that is gone', async () => {
    reads = [];
    fakeEc2();
    const { handle, deps } = check({ config: enforcementOn() });

    await handle(INPUT);

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(StopInstancesCommand, 0);
    expect(deps.written[0]).toMatchObject({ outcome: 'ignored', reason: `${ID} not found (terminated and purged): nothing to stop` });
  });

  it('stops nothing once enforcement is turned off, even for checks scheduled before', async () => {
    fakeEc2();
    const { handle, deps } = check({ config: sampleConfig() });

    await handle(INPUT);

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(StopInstancesCommand, 0);
    expect(deps.written[0]).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('enforcement is off in configuration') });
  });

  it('stops only for keys still required now: a key dropped from the policy stops nobody', async () => {
    fakeEc2();
    const { handle, deps } = check({ config: enforcementOn({ requiredTags: ['CostCenter'] }) });

    await handle({ ...INPUT, requiredTags: ['Owner'] });
    await handle({ ...INPUT, requiredTags: ['Owner', 'CostCenter'], sourceEventId: 'another-launch' });

    expect(deps.written[0]).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('none of Owner is still required (now CostCenter)') });
    expect(deps.written[1]).toMatchObject({ outcome: 'remediated', reason: expect.stringContaining(`${ID} still lacks CostCenter after`) });
    expect(stops).toEqual([[ID]]);
  });

  it('does not touch an instance exempt by configuration', async () => {
    fakeEc2();
    const config = sampleConfig({
      rules: { 'untagged-instance': { enforcement: { enabled: true } } },
      exemptions: [{ rule: 'untagged-instance', resource: ID, reason: 'load test, ticket OPS-1' }],
    });
    const { handle, deps } = check({ config });

    await handle(INPUT);

    expect(ec2.calls()).toHaveLength(0);
    expect(deps.written[0]).toMatchObject({ outcome: 'exempt', exemptions: [{ resource: ID, reason: 'load test, ticket OPS-1' }] });
  });

  it('fails naming ec2:StopInstances when the stop is denied', async () => {
    fakeEc2();
    ec2
      .on(StopInstancesCommand)
      .rejects(
        Object.assign(new Error('You are not authorized to perform this operation.'), { name: 'UnauthorizedOperation', $metadata: { httpStatusCode: 403 } }),
      );
    const { handle, deps } = check({ config: enforcementOn() });

    await handle(INPUT);

    expect(ec2).toHaveReceivedCommandTimes(StopInstancesCommand, 1);
    expect(deps.written[0]).toMatchObject({
      outcome: 'failed',
      severity: 'HIGH',
      actions: [{ api: 'EC2.StopInstances', status: 'failed', error: 'denied: UnauthorizedOperation' }],
      error: { kind: 'denied', api: 'EC2.StopInstances', permission: 'ec2:StopInstances' },
    });
    expect(deps.published[0]?.subject).toMatch(`FAILED to enforce tags on EC2 instance ${ID}`);
  });

  it('reports a stop that does not read back as failed, never remediated', async () => {
    fakeEc2();
    ec2.on(StopInstancesCommand).resolves({}); // accepted, but the instance keeps running

    const { handle, deps } = check({ config: enforcementOn() });
    await handle(INPUT);

    expect(ec2).toHaveReceivedCommandTimes(StopInstancesCommand, 1);
    expect(deps.written[0]).toMatchObject({
      outcome: 'failed',
      actions: [{ status: 'done', verification: { ok: false, detail: `${ID} is running after StopInstances` } }],
    });
  });
});

describe('untagged-instance enforcement check, dry-run, offline and bad input', () => {
  it('dry-run reads the instance and reports the stop it would make, stopping nothing', async () => {
    fakeEc2();
    const { handle, deps } = check({ mode: 'dry-run', config: enforcementOn() });

    await handle(INPUT);

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(ec2).toHaveReceivedCommandTimes(StopInstancesCommand, 0);
    expect(deps.written[0]).toMatchObject({
      outcome: 'would-remediate',
      severity: 'HIGH',
      actions: [{ api: 'EC2.StopInstances', status: 'planned', params: { InstanceIds: [ID] } }],
    });
    expect(deps.published[0]?.subject).toContain(`Would stop untagged EC2 instance ${ID}`);
  });

  it('offline decides nothing on the input alone and calls nothing', async () => {
    const { handle, deps } = check({ mode: 'offline', config: enforcementOn() });

    await handle(INPUT);

    expect(ec2.calls()).toHaveLength(0);
    expect(deps.written[0]).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('offline: enforcement decides only on') });
  });

  it.each([
    ['an instance id that is not one', { ...INPUT, instanceId: 'i-*' }, 'input.instanceId: expected an EC2 instance id'],
    ['no required tags', { ...INPUT, requiredTags: [] }, 'input.requiredTags'],
    ['an unknown key', { ...INPUT, force: true }, 'input.force'],
    ['a string instead of an object', JSON.stringify(INPUT), 'input'],
    ['nothing', undefined, 'input'],
  ])('ends in one failed record, without throwing or calling EC2, for %s', async (_, input, field) => {
    fakeEc2();
    const { handle, deps } = check({ config: enforcementOn() });

    await expect(handle(input)).resolves.toMatchObject({ outcome: 'failed' });

    expect(ec2.calls()).toHaveLength(0);
    expect(deps.written).toHaveLength(1);
    expect(deps.written[0]).toMatchObject({
      rule: 'untagged-instance',
      outcome: 'failed',
      trigger: 'schedule',
      eventName: null,
      eventSource: null,
      eventTime: null,
      actor: null,
      eventId: expect.stringMatching(/^unreadable-enforce-input-[0-9a-f]{12}$/),
      error: { kind: 'parse', code: 'ParseError', message: expect.stringContaining(field) },
    });
    expect(deps.published[0]?.subject).toContain('FAILED to enforce tags');
  });

  it('gives the same bad input the same event id, and a different one another', () => {
    expect(unreadableEnforceInput({ instanceId: 'x' }).id).toBe(unreadableEnforceInput({ instanceId: 'x' }).id);
    expect(unreadableEnforceInput({ instanceId: 'y' }).id).not.toBe(unreadableEnforceInput({ instanceId: 'x' }).id);
  });

  it('names the record of a bad input by the account and Region it names, if any', () => {
    expect(unreadableEnforceInput({ ...INPUT, requiredTags: [] })).toMatchObject({
      trigger: 'schedule',
      account: ACCOUNT,
      region: 'eu-west-1',
      facts: { resources: [] },
    });
    expect(unreadableEnforceInput(undefined)).toMatchObject({ trigger: 'schedule', account: undefined, region: 'unknown' });
  });

  it("reads the schedule input into a schedule finding named by the schedule, in the launch's account and Region", () => {
    expect(readEnforceInput(INPUT)).toEqual({
      trigger: 'schedule',
      id: NAME,
      account: ACCOUNT,
      region: 'eu-west-1',
      facts: {
        resources: [{ type: 'AWS::EC2::Instance', id: ID }],
        instanceId: ID,
        requiredTags: ['Owner'],
        sourceEventId: INPUT.sourceEventId,
        scheduleName: NAME,
      },
    });
  });

  it('refuses to be run from a CloudTrail event', () => {
    // The launch the check was scheduled for, delivered as an event: the check never runs from one.
    const event = parseEnvelope(
      wrapRecord({
        eventVersion: '1.09',
        eventTime: FIRED,
        eventSource: 'ec2.amazonaws.com',
        eventName: 'RunInstances',
        awsRegion: 'eu-west-1',
        eventID: INPUT.sourceEventId,
        recipientAccountId: ACCOUNT,
        userIdentity: { type: 'IAMUser', arn: `arn:aws:iam::${ACCOUNT}:user/alice` },
        requestParameters: {},
        responseElements: { instancesSet: { items: [{ instanceId: ID }] } },
      }),
    );
    expect(() => untaggedInstanceEnforce.parse({ event, record: event.detail })).toThrow(/never from a CloudTrail event/);
  });
});
