import { CreateTagsCommand, DescribeInstancesCommand, DescribeTagsCommand, EC2Client, type DescribeInstancesCommandInput } from '@aws-sdk/client-ec2';
import { CreateScheduleCommand, GetScheduleCommand, SchedulerClient, type GetScheduleCommandOutput } from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MIN_NOTICE_MINUTES, scheduleNameFor } from '../../../functions/untagged-instance/enforcement.js';
import { readEnforceInput } from '../../../functions/untagged-instance/enforce.js';
import { untaggedInstance, type LaunchState } from '../../../functions/untagged-instance/rule.js';
import { ConfigError } from '../../../shared/errors.js';
import { loadConfig } from '../../../shared/config.js';
import { parseEnvelope, toEnvelopeJson } from '../../../shared/events/schema.js';
import type { OneTimeSchedule } from '../../../shared/scheduler/one-time.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const RULE = 'untagged-instance';
const ACCOUNT = '111122223333';
const FN = `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:trailguard-test-untaggedInstanceEnforce`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/trailguard-test-enforceScheduler-role`;
const ALICE = 'would-remediate.console-iam-user-no-tags'; // i-0123456789abcdef0, launched 2026-11-20T09:16:00Z
const ID = 'i-0123456789abcdef0';
const EVENT_ID = '6e1f2a3b-0000-4000-8000-000000000101';
const NAME = `trailguard-enforce-${ID}-cec6af05cf`; // sha256 of the event id, first 10 hex digits
const INPUT = JSON.stringify({ instanceId: ID, region: 'eu-west-1', account: ACCOUNT, requiredTags: ['Owner'], sourceEventId: EVENT_ID });

/** The exact schedule for the alice launch with a 60-minute grace period. */
const SCHEDULE: OneTimeSchedule = {
  Name: NAME,
  GroupName: 'default',
  ScheduleExpression: 'at(2026-11-20T10:16:00)',
  ScheduleExpressionTimezone: 'UTC',
  FlexibleTimeWindow: { Mode: 'OFF' },
  ActionAfterCompletion: 'DELETE',
  State: 'ENABLED',
  Description: `trailguard: stop ${ID} if it still lacks Owner`,
  Target: { Arn: FN, RoleArn: ROLE, Input: INPUT },
};

function configWith(
  enforcement: Record<string, unknown>,
  top: Record<string, unknown> = { enforceFunctionArn: FN, schedulerRoleArn: ROLE },
  rule: Record<string, unknown> = {},
) {
  return sampleConfig({ ...top, rules: { [RULE]: { ...rule, enforcement } } });
}

function decideOn(sample: unknown, config = configWith({ enabled: true }), state?: LaunchState) {
  const event = parseEnvelope(toEnvelopeJson(sample));
  const context = { event, record: event.detail };
  return untaggedInstance.decide(untaggedInstance.parse(context), state, untaggedInstance.settings(config));
}

const stateAt = (checkedAt: string, tags: Record<string, string> = {}): LaunchState => ({
  instances: new Map([[ID, { id: ID, state: 'running', tags, volumeIds: [] }]]),
  volumeTags: new Map(),
  checkedAt: Date.parse(checkedAt),
});

describe('untagged-instance enforcement: the planned schedule', () => {
  it('plans no schedule when enforcement is off (the default), and still tags', () => {
    const decision = decideOn(loadSample(RULE, ALICE), sampleConfig({ enforceFunctionArn: FN, schedulerRoleArn: ROLE }));
    expect(decision).toMatchObject({ kind: 'violation', severity: 'LOW', actions: [{ api: 'EC2.CreateTags' }] });
    expect(decision.kind === 'violation' && decision.actions.map((a) => a.api)).toEqual(['EC2.CreateTags']);
    expect(decision.reason).not.toContain('enforcement');
  });

  it('plans exactly one one-time schedule per instance at launch + grace, after the CreateTags', () => {
    const decision = decideOn(loadSample(RULE, ALICE));
    expect(decision.kind).toBe('violation');
    if (decision.kind !== 'violation') return;
    expect(decision.actions.map((a) => a.api)).toEqual(['EC2.CreateTags', 'Scheduler.CreateSchedule']);
    expect(decision.actions[1]).toEqual({
      api: 'Scheduler.CreateSchedule',
      resource: { type: 'AWS::Scheduler::Schedule', id: NAME, name: ID },
      params: SCHEDULE,
    });
    expect(decision.severity).toBe('LOW');
    expect(decision.reason).toContain(`enforcement: stop check at 2026-11-20T10:16:00Z (the end of the 60-minute grace period) for ${ID}`);
  });

  it('uses the configured grace period and keeps the time when the read is well before its end', () => {
    const decision = decideOn(loadSample(RULE, ALICE), configWith({ enabled: true, graceMinutes: 1440 }), stateAt('2026-11-20T09:20:00Z'));
    expect(decision).toMatchObject({ actions: [{ api: 'EC2.CreateTags' }, { params: { ScheduleExpression: 'at(2026-11-21T09:16:00)' } }] });
  });

  it('schedules a late event MIN_NOTICE after the read, never in the past, and says so', () => {
    // Read two days after the launch (a replay, a redrive from the dead-letter queue): the grace has long ended.
    const decision = decideOn(loadSample(RULE, ALICE), configWith({ enabled: true }), stateAt('2026-11-22T08:00:00.400Z'));
    expect(MIN_NOTICE_MINUTES).toBe(5);
    expect(decision).toMatchObject({ actions: [{ api: 'EC2.CreateTags' }, { params: { ScheduleExpression: 'at(2026-11-22T08:05:01)' } }] });
    expect(decision.reason).toContain(
      'stop check at 2026-11-22T08:05:01Z (the 60-minute grace period had already ended (late event), so the check runs 5 minutes after this decision)',
    );
  });

  it('switches to MIN_NOTICE exactly when the grace end is closer than that to the read', () => {
    const atEdge = decideOn(loadSample(RULE, ALICE), configWith({ enabled: true, graceMinutes: 5 }), stateAt('2026-11-20T09:16:00Z'));
    expect(atEdge).toMatchObject({ actions: [{}, { params: { ScheduleExpression: 'at(2026-11-20T09:21:00)' } }] });
    expect(atEdge.reason).toContain('the end of the 5-minute grace period');
    const past = decideOn(loadSample(RULE, ALICE), configWith({ enabled: true, graceMinutes: 5 }), stateAt('2026-11-20T09:16:01Z'));
    expect(past).toMatchObject({ actions: [{}, { params: { ScheduleExpression: 'at(2026-11-20T09:21:01)' } }] });
    expect(past.reason).toContain('late event');
  });

  it('names a schedule per instance and event: valid characters, at most 64, different for another event', () => {
    const decision = decideOn(loadSample(RULE, 'would-remediate.two-instances-one-call'));
    const names =
      decision.kind === 'violation' ? decision.actions.filter((a) => a.api === 'Scheduler.CreateSchedule').map((a) => (a.params as OneTimeSchedule).Name) : [];
    expect(names).toHaveLength(2);
    for (const name of names) expect(name).toMatch(/^trailguard-enforce-i-[0-9a-f]{17}-[0-9a-f]{10}$/);
    expect(names.every((name) => name.length <= 64)).toBe(true);
    expect(new Set(names).size).toBe(2);
    expect(scheduleNameFor(ID, 'another-event')).not.toBe(NAME);
    expect(scheduleNameFor(ID, EVENT_ID)).toBe(NAME);
  });

  it('schedules the check of an instance nothing can be tagged on: a MEDIUM violation instead of an alert', () => {
    const config = configWith({ enabled: true }, undefined, { requiredTags: ['CostCenter'] });
    const decision = decideOn(loadSample(RULE, ALICE), config);
    expect(decision).toMatchObject({
      kind: 'violation',
      severity: 'MEDIUM',
      reason: expect.stringContaining('nothing can be tagged automatically; enforcement: stop check at'),
    });
    expect(decision.kind === 'violation' && decision.actions.map((a) => a.api)).toEqual(['Scheduler.CreateSchedule']);
    expect(decision).toMatchObject({
      actions: [
        {
          params: {
            Description: `trailguard: stop ${ID} if it still lacks CostCenter`,
            Target: { Input: expect.stringContaining('"requiredTags":["CostCenter"]') },
          },
        },
      ],
    });
    const off = decideOn(loadSample(RULE, ALICE), configWith({ enabled: false }, undefined, { requiredTags: ['CostCenter'] }));
    expect(off).toMatchObject({ kind: 'alert', severity: 'MEDIUM' });
  });

  it('says clearly, at MEDIUM, that nothing is scheduled when the function or role ARN is not configured', () => {
    const neither = decideOn(loadSample(RULE, ALICE), configWith({ enabled: true }, {}));
    expect(neither).toMatchObject({
      kind: 'violation',
      severity: 'MEDIUM',
      reason: expect.stringContaining(
        'enforcement is enabled but NOT scheduled: TRAILGUARD_ENFORCE_FUNCTION_ARN and TRAILGUARD_SCHEDULER_ROLE_ARN not set, so no instance will be stopped',
      ),
    });
    expect(neither.kind === 'violation' && neither.actions.map((a) => a.api)).toEqual(['EC2.CreateTags']);
    const noRole = decideOn(loadSample(RULE, ALICE), configWith({ enabled: true }, { enforceFunctionArn: FN }));
    expect(noRole.reason).toContain('NOT scheduled: TRAILGUARD_SCHEDULER_ROLE_ARN not set');
    const untaggable = decideOn(loadSample(RULE, ALICE), configWith({ enabled: true }, {}, { requiredTags: ['CostCenter'] }));
    expect(untaggable).toMatchObject({ kind: 'alert', severity: 'MEDIUM', reason: expect.stringContaining('NOT scheduled') });
  });

  it('plans no schedule for an instance that already carries the tags or is gone', () => {
    const decision = decideOn(loadSample(RULE, ALICE), configWith({ enabled: true }), stateAt('2026-11-20T09:17:00Z', { Owner: 'alice' }));
    expect(decision).toMatchObject({ kind: 'compliant' });
    const gone = decideOn(loadSample(RULE, ALICE), configWith({ enabled: true }), { instances: new Map(), volumeTags: new Map(), checkedAt: 0 });
    expect(gone).toMatchObject({ kind: 'not-applicable', reason: expect.stringContaining('not found') });
  });

  it('writes an input the enforcement function reads back to the same schedule name, instance and keys', () => {
    const { trigger, id, account, region, facts } = readEnforceInput(JSON.parse(SCHEDULE.Target.Input));
    expect({ trigger, id, account, region }).toEqual({ trigger: 'schedule', id: NAME, account: ACCOUNT, region: 'eu-west-1' });
    expect(facts).toEqual({
      resources: [{ type: 'AWS::EC2::Instance', id: ID }],
      instanceId: ID,
      requiredTags: ['Owner'],
      sourceEventId: EVENT_ID,
      scheduleName: NAME,
    });
  });
});

describe('untagged-instance enforcement configuration', () => {
  it('reads the function and role ARNs from their variables', () => {
    const config = loadConfig({ TRAILGUARD_ENFORCE_FUNCTION_ARN: FN, TRAILGUARD_SCHEDULER_ROLE_ARN: ROLE });
    expect(config).toMatchObject({ enforceFunctionArn: FN, schedulerRoleArn: ROLE });
  });

  it.each([
    ['TRAILGUARD_ENFORCE_FUNCTION_ARN', 'trailguard-test-untaggedInstanceEnforce', /TRAILGUARD_ENFORCE_FUNCTION_ARN: expected a Lambda function ARN/],
    ['TRAILGUARD_SCHEDULER_ROLE_ARN', `arn:aws:iam::${ACCOUNT}:user/alice`, /TRAILGUARD_SCHEDULER_ROLE_ARN: expected an IAM role ARN/],
  ])('refuses a %s that is not an ARN of its kind, naming the variable', (variable, value, message) => {
    expect(() => loadConfig({ [variable]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [variable]: value })).toThrow(message);
  });
});

describe('untagged-instance enforcement: creating the schedule', () => {
  const ec2 = mockClient(EC2Client);
  const scheduler = mockClient(SchedulerClient);
  let tags: Record<string, string>;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-20T09:17:00Z')); // the read, one minute after the launch
    ec2.reset();
    scheduler.reset();
    ec2.rejects(new Error('unexpected EC2 call'));
    scheduler.rejects(new Error('unexpected Scheduler call'));
    tags = {};
    ec2.on(DescribeInstancesCommand).callsFake((input: DescribeInstancesCommandInput) => ({
      Reservations: [
        {
          Instances: (input.Filters?.[0]?.Values ?? [])
            .filter((id) => id === ID)
            .map((id) => ({
              InstanceId: id,
              State: { Name: 'running' },
              Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
            })),
        },
      ],
    }));
    ec2.on(DescribeTagsCommand).callsFake(() => ({ Tags: Object.entries(tags).map(([Key, Value]) => ({ ResourceId: ID, Key, Value })) }));
    ec2.on(CreateTagsCommand).callsFake((input: { Tags: { Key: string; Value: string }[] }) => {
      for (const tag of input.Tags) tags[tag.Key] = tag.Value;
      return {};
    });
  });
  afterEach(() => {
    vi.useRealTimers();
    ec2.reset();
    scheduler.reset();
  });

  const existing = (overrides: Partial<GetScheduleCommandOutput> = {}): GetScheduleCommandOutput => ({
    $metadata: {},
    Name: NAME,
    GroupName: 'default',
    State: 'ENABLED',
    ScheduleExpression: SCHEDULE.ScheduleExpression,
    ScheduleExpressionTimezone: 'UTC',
    Target: { Arn: FN, RoleArn: ROLE, Input: INPUT },
    ...overrides,
  });

  it("creates the schedule in the target function's region and reads it back", async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: `arn:aws:scheduler:eu-west-1:${ACCOUNT}:schedule/default/${NAME}` });
    scheduler.on(GetScheduleCommand).resolves(existing());
    // The launch is in us-east-1; the schedule lives beside the function, in eu-west-1.
    const sample = withDetail(loadSample(RULE, ALICE), { awsRegion: 'us-east-1' });

    const { record, deps } = await runSample(untaggedInstance, ALICE, { mode: 'live', config: configWith({ enabled: true }) });
    tags = {};
    const usEastDeps = capturingDeps({ mode: 'live', config: configWith({ enabled: true }) });
    const usEast = await run(untaggedInstance, sample, usEastDeps);

    expect(scheduler.commandCalls(CreateScheduleCommand)[0]?.args[0].input).toEqual(SCHEDULE);
    expect(scheduler).toHaveReceivedCommandWith(GetScheduleCommand, { Name: NAME, GroupName: 'default' });
    expect(ec2).toHaveReceivedCommandTimes(CreateTagsCommand, 2);
    expect(record).toMatchObject({
      outcome: 'remediated',
      actions: [
        { api: 'EC2.CreateTags', status: 'done', verification: { ok: true } },
        {
          api: 'Scheduler.CreateSchedule',
          resource: NAME,
          status: 'done',
          verification: { ok: true, detail: `schedule ${NAME} is enabled: at(2026-11-20T10:16:00) UTC invokes ${FN}` },
        },
      ],
    });
    expect(deps.published[0]?.text).toContain(
      `by hand (cancelling the pending enforcement check is left to a person; it deletes itself after it runs): aws scheduler delete-schedule --region 'eu-west-1' --name '${NAME}' --group-name 'default'`,
    );
    // A us-east-1 launch: the tags are reversed in us-east-1, the check is cancelled where it lives (the function's Region).
    expect(usEastDeps.published[0]?.text).toContain(`aws ec2 delete-tags --region 'us-east-1' --resources '${ID}'`);
    expect(usEastDeps.published[0]?.text).toContain(`aws scheduler delete-schedule --region 'eu-west-1' --name '${NAME}'`);
    const regions = await Promise.all(scheduler.calls().map((call) => (call.thisValue as SchedulerClient).config.region()));
    expect(new Set(regions)).toEqual(new Set(['eu-west-1']));
    expect(usEast.actions[1]).toMatchObject({
      api: 'Scheduler.CreateSchedule',
      status: 'done',
      params: { Target: { Input: expect.stringContaining('"region":"us-east-1"') } },
    });
  });

  it('keeps the schedule an earlier delivery of the same event created, once it reads back as planned', async () => {
    scheduler
      .on(CreateScheduleCommand)
      .rejects(Object.assign(new Error(`Schedule ${NAME} already exists.`), { name: 'ConflictException', $metadata: { httpStatusCode: 409 } }));
    scheduler.on(GetScheduleCommand).resolves(existing());

    const { record } = await runSample(untaggedInstance, ALICE, { mode: 'live', config: configWith({ enabled: true }) });

    expect(scheduler).toHaveReceivedCommandTimes(CreateScheduleCommand, 1);
    expect(scheduler).toHaveReceivedCommandTimes(GetScheduleCommand, 1);
    expect(record).toMatchObject({ outcome: 'remediated', actions: [{ status: 'done' }, { status: 'done', verification: { ok: true } }] });
  });

  it('fails when the schedule of that name points elsewhere or is disabled', async () => {
    scheduler.on(CreateScheduleCommand).rejects(Object.assign(new Error('exists'), { name: 'ConflictException', $metadata: { httpStatusCode: 409 } }));
    scheduler.on(GetScheduleCommand).resolves(existing({ State: 'DISABLED', Target: { Arn: `${FN}-other`, RoleArn: ROLE, Input: INPUT } }));

    const { record } = await runSample(untaggedInstance, ALICE, { mode: 'live', config: configWith({ enabled: true }) });

    expect(record).toMatchObject({
      outcome: 'failed',
      actions: [
        { status: 'done', verification: { ok: true } },
        { status: 'done', verification: { ok: false, detail: `schedule ${NAME} is not as planned: state DISABLED, target ${FN}-other` } },
      ],
    });
  });

  it('fails naming scheduler:CreateSchedule when it is denied, and still tags', async () => {
    scheduler
      .on(CreateScheduleCommand)
      .rejects(Object.assign(new Error('not authorized to perform: iam:PassRole'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }));

    const { record } = await runSample(untaggedInstance, ALICE, { mode: 'live', config: configWith({ enabled: true }) });

    expect(tags.Owner).toBe(`arn:aws:iam::${ACCOUNT}:user/alice`);
    expect(record).toMatchObject({
      outcome: 'failed',
      actions: [
        { api: 'EC2.CreateTags', status: 'done' },
        { api: 'Scheduler.CreateSchedule', status: 'failed', error: 'denied: AccessDeniedException' },
      ],
      error: { kind: 'denied', api: 'Scheduler.CreateSchedule', permission: 'scheduler:CreateSchedule' },
    });
  });

  it('dry-run plans the schedule and creates nothing', async () => {
    const { record } = await runSample(untaggedInstance, ALICE, { mode: 'dry-run', config: configWith({ enabled: true }) });

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(scheduler.calls()).toHaveLength(0);
    expect(ec2).toHaveReceivedCommandTimes(CreateTagsCommand, 0);
    expect(record).toMatchObject({
      outcome: 'would-remediate',
      actions: [{ status: 'planned' }, { api: 'Scheduler.CreateSchedule', status: 'planned', params: SCHEDULE }],
    });
  });
});
