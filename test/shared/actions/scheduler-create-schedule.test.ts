import { CreateScheduleCommand, GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stepOf, type AnyActionType, type SelfSignature, type Step } from '../../../shared/actions/action.js';
import { reversalLines, reversalOf } from '../../../shared/actions/reversal.js';
import { createSchedule, createScheduleSignature } from '../../../shared/actions/scheduler-create-schedule.js';
import { deleteSchedule } from '../../../shared/actions/scheduler-delete-schedule.js';
import type { OneTimeSchedule } from '../../../shared/scheduler/one-time.js';
import { sampleConfig } from '../../helpers/samples.js';
import { record } from '../../helpers/records.js';

const scheduler = mockClient(SchedulerClient);
const clients = { scheduler: (region: string) => new SchedulerClient({ region, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }) };
const ACCOUNT = '111122223333';
const ID = 'i-0123456789abcdef0';
const NAME = `trailguard-enforce-${ID}-cec6af05cf`;
const FN = `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:trailguard-test-untaggedInstanceEnforce`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/trailguard-test-enforceScheduler-role`;
const INPUT = JSON.stringify({ instanceId: ID, region: 'us-east-1', account: ACCOUNT, requiredTags: ['Owner'], sourceEventId: 'evt-1' });
const RESOURCE = { type: 'AWS::Scheduler::Schedule', id: NAME, name: ID };
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
const asType: AnyActionType = createSchedule;
const asSignature: SelfSignature = createScheduleSignature;

/** A validated step in `region`: the launch's (the record's), which is not where the schedule lives. */
const stepFor = (params: unknown = SCHEDULE, region = 'us-east-1') =>
  stepOf(createSchedule, { api: createSchedule.api, resource: RESOURCE, params }, region) as Step<OneTimeSchedule, OneTimeSchedule>;
const regionsOf = (calls: readonly { readonly thisValue: unknown }[]) => Promise.all(calls.map((call) => (call.thisValue as SchedulerClient).config.region()));

beforeEach(() => {
  scheduler.reset();
  scheduler.rejects(new Error('unexpected Scheduler call'));
});
afterEach(() => scheduler.reset());

describe('Scheduler.CreateSchedule params', () => {
  it('takes the one-time schedule trailguard plans', () => {
    expect(stepFor().params).toEqual(SCHEDULE);
  });

  it.each([
    ['a hostile name', { ...SCHEDULE, Name: "trailguard-enforce-x';touch pwned;'" }],
    ['a name over 64 characters', { ...SCHEDULE, Name: 'x'.repeat(65) }],
    ['a rate expression', { ...SCHEDULE, ScheduleExpression: 'rate(1 minute)' }],
    ['a flexible window', { ...SCHEDULE, FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 5 } }],
    ['a schedule kept after it runs', { ...SCHEDULE, ActionAfterCompletion: 'NONE' }],
    ['a target that is no Lambda function', { ...SCHEDULE, Target: { ...SCHEDULE.Target, Arn: `arn:aws:sqs:eu-west-1:${ACCOUNT}:queue` } }],
    ['a function ARN without its Region', { ...SCHEDULE, Target: { ...SCHEDULE.Target, Arn: `arn:aws:lambda::${ACCOUNT}:function:f` } }],
    ['a role that is a user', { ...SCHEDULE, Target: { ...SCHEDULE.Target, RoleArn: `arn:aws:iam::${ACCOUNT}:user/alice` } }],
    ['an extra field', { ...SCHEDULE, KmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/x' }],
  ])('refuses %s before any call', (_, params) => {
    expect(v.safeParse(createSchedule.params, params).success).toBe(false);
    expect(() => stepFor(params)).toThrow(expect.objectContaining({ kind: 'invalid', code: 'InvalidActionParams' }));
    expect(scheduler.calls()).toHaveLength(0);
  });
});

describe('Scheduler.CreateSchedule perform and verify', () => {
  it("creates the schedule in its target function's Region, not the launch's, and reads it back there", async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: `arn:aws:scheduler:eu-west-1:${ACCOUNT}:schedule/default/${NAME}` });
    scheduler.on(GetScheduleCommand).resolves({ ...SCHEDULE, $metadata: {} });
    const step = stepFor(SCHEDULE, 'us-east-1');

    await createSchedule.perform(step, clients);
    const verification = await createSchedule.verify(step, clients);

    expect(scheduler.commandCalls(CreateScheduleCommand).map((c) => c.args[0].input)).toEqual([SCHEDULE]);
    expect(await regionsOf(scheduler.commandCalls(CreateScheduleCommand))).toEqual(['eu-west-1']);
    expect(scheduler.commandCalls(GetScheduleCommand).map((c) => c.args[0].input)).toEqual([{ Name: NAME, GroupName: 'default' }]);
    expect(await regionsOf(scheduler.commandCalls(GetScheduleCommand))).toEqual(['eu-west-1']);
    expect(verification).toEqual({ ok: true, detail: `schedule ${NAME} is enabled: at(2026-11-20T10:16:00) UTC invokes ${FN}` });
  });

  it('keeps the schedule an earlier delivery created (ConflictException), and judges it by its read-back', async () => {
    scheduler.on(CreateScheduleCommand).rejects(Object.assign(new Error('exists'), { name: 'ConflictException', $metadata: { httpStatusCode: 409 } }));
    scheduler.on(GetScheduleCommand).resolves({ ...SCHEDULE, State: 'DISABLED', $metadata: {} });

    await createSchedule.perform(stepFor(), clients);

    expect(await createSchedule.verify(stepFor(), clients)).toEqual({ ok: false, detail: `schedule ${NAME} is not as planned: state DISABLED` });
  });

  it('lets a denied create fail as the SDK error (the runner classifies it)', async () => {
    const denied = Object.assign(new Error('not authorized to perform: iam:PassRole'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
    scheduler.on(CreateScheduleCommand).rejects(denied);
    await expect(createSchedule.perform(stepFor(), clients)).rejects.toBe(denied);
  });
});

describe('Scheduler.CreateSchedule reverse, command, signature', () => {
  it('is reversed by hand: deleting the schedule, in its own Region', () => {
    expect(asType.reverse(stepFor())).toEqual({
      kind: 'manual',
      why: 'cancelling the pending enforcement check is left to a person; it deletes itself after it runs',
      steps: [
        {
          type: deleteSchedule,
          action: {
            api: 'Scheduler.DeleteSchedule',
            resource: { ...RESOURCE, region: 'eu-west-1' },
            params: { Name: NAME, GroupName: 'default' },
            previous: SCHEDULE,
          },
        },
      ],
    });
  });

  it("gives the notification, report and undo the cancel command in the function's Region for a us-east-1 launch", () => {
    const scheduled = record({
      rule: 'untagged-instance',
      region: 'us-east-1',
      resources: [{ type: 'AWS::EC2::Instance', id: ID }],
      actions: [{ api: createSchedule.api, status: 'done', resource: NAME, params: SCHEDULE, verification: { ok: true, detail: 'enabled' } }],
    });
    expect(reversalOf([createSchedule], scheduled, scheduled.actions[0]!)).toMatchObject({ kind: 'manual' });
    expect(reversalLines([createSchedule], scheduled)).toEqual([
      `To reverse by hand (cancelling the pending enforcement check is left to a person; it deletes itself after it runs): aws scheduler delete-schedule --region 'eu-west-1' --name '${NAME}' --group-name 'default'`,
    ]);
  });

  it("gives a complete command in the function's Region, every value quoted", () => {
    const step = stepFor({ ...SCHEDULE, Description: "trailguard: stop it if it still lacks Owner's tag" }, 'us-east-1');
    expect(createSchedule.command(step)).toBe(
      [
        `aws scheduler create-schedule --region 'eu-west-1' --name '${NAME}' --group-name 'default'`,
        `--schedule-expression 'at(2026-11-20T10:16:00)' --schedule-expression-timezone 'UTC' --flexible-time-window '{"Mode":"OFF"}'`,
        `--action-after-completion 'DELETE' --state 'ENABLED' --description 'trailguard: stop it if it still lacks Owner'\\''s tag'`,
        `--target '${JSON.stringify(SCHEDULE.Target)}'`,
      ].join(' '),
    );
  });

  it('gives no command for a hostile name even when handed a step that skipped validation', () => {
    const command = createSchedule.command({
      api: createSchedule.api,
      resource: RESOURCE,
      params: { ...SCHEDULE, Name: 'a b;c' },
      previous: undefined,
      region: 'eu-west-1',
    });
    expect(command).toBe('no command: the schedule name in the event is not a valid schedule name');
  });

  it('says what it does, needs scheduler:CreateSchedule, and does not retrigger a rule', () => {
    expect(createSchedule.describe(stepFor())).toBe(`schedule the enforcement check ${NAME} at at(2026-11-20T10:16:00) UTC, invoking ${FN}`);
    expect(createSchedule).toMatchObject({ api: 'Scheduler.CreateSchedule', iam: 'scheduler:CreateSchedule', clients: ['scheduler'], retriggers: false });
    expect(createSchedule.signature).toBe(createScheduleSignature);
  });

  it("signs every CreateSchedule of trailguard's roles as its own (its own account only, no rule watches Scheduler)", () => {
    expect(createScheduleSignature).toMatchObject({ api: 'Scheduler.CreateSchedule', eventName: 'CreateSchedule' });
    expect(asSignature.isOwnWrite({ name: NAME }, { enforces: false, config: sampleConfig() })).toBe(true);
  });
});
