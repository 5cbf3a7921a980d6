import { DeleteScheduleCommand, GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stepOf, type AnyActionType, type Step } from '../../../shared/actions/action.js';
import { deleteSchedule, type DeleteScheduleParams } from '../../../shared/actions/scheduler-delete-schedule.js';
import type { OneTimeSchedule } from '../../../shared/scheduler/one-time.js';

const scheduler = mockClient(SchedulerClient);
const clients = { scheduler: (region: string) => new SchedulerClient({ region, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }) };
const NAME = 'trailguard-enforce-i-0123456789abcdef0-cec6af05cf';
// The schedule's own Region, as CreateSchedule's reversal names it on the resource.
const RESOURCE = { type: 'AWS::Scheduler::Schedule', id: NAME, name: 'i-0123456789abcdef0', region: 'eu-west-1' };
const PARAMS = { Name: NAME, GroupName: 'default' };
const asType: AnyActionType = deleteSchedule;
const notFound = () => Object.assign(new Error(`Schedule ${NAME} does not exist.`), { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } });

const stepFor = (params: unknown = PARAMS) =>
  stepOf(deleteSchedule, { api: deleteSchedule.api, resource: RESOURCE, params }, 'us-east-1') as Step<DeleteScheduleParams, OneTimeSchedule>;
const regionsOf = (calls: readonly { readonly thisValue: unknown }[]) => Promise.all(calls.map((call) => (call.thisValue as SchedulerClient).config.region()));

beforeEach(() => {
  scheduler.reset();
  scheduler.rejects(new Error('unexpected Scheduler call'));
});
afterEach(() => scheduler.reset());

describe('Scheduler.DeleteSchedule', () => {
  it('takes a schedule name and group, and refuses anything else before any call', () => {
    expect(stepFor().params).toEqual(PARAMS);
    for (const params of [{ Name: 'a;b', GroupName: 'default' }, { Name: NAME }, { ...PARAMS, ClientToken: 'x' }]) {
      expect(v.safeParse(deleteSchedule.params, params).success).toBe(false);
      expect(() => stepFor(params)).toThrow(expect.objectContaining({ kind: 'invalid' }));
    }
    expect(scheduler.calls()).toHaveLength(0);
  });

  it("deletes the schedule in its own Region (the resource's), and reads it back as deleted", async () => {
    scheduler.on(DeleteScheduleCommand).resolves({});
    scheduler.on(GetScheduleCommand).rejects(notFound());

    await deleteSchedule.perform(stepFor(), clients);
    const verification = await deleteSchedule.verify(stepFor(), clients);

    expect(scheduler.commandCalls(DeleteScheduleCommand).map((c) => c.args[0].input)).toEqual([PARAMS]);
    expect(await regionsOf(scheduler.commandCalls(DeleteScheduleCommand))).toEqual(['eu-west-1']);
    expect(await regionsOf(scheduler.commandCalls(GetScheduleCommand))).toEqual(['eu-west-1']);
    expect(verification).toEqual({ ok: true, detail: `schedule ${NAME} reads back as deleted` });
  });

  it('takes a schedule already gone (it ran, or a person deleted it) as deleted', async () => {
    scheduler.on(DeleteScheduleCommand).rejects(notFound());
    await expect(deleteSchedule.perform(stepFor(), clients)).resolves.toBeUndefined();
  });

  it('does not verify a schedule that still exists, and classifies a denied read-back', async () => {
    scheduler.on(GetScheduleCommand).resolves({ Name: NAME, State: 'ENABLED', ScheduleExpression: 'at(2026-11-20T10:16:00)', $metadata: {} });
    expect(await deleteSchedule.verify(stepFor(), clients)).toEqual({ ok: false, detail: `schedule ${NAME} still exists (ENABLED, at(2026-11-20T10:16:00))` });
    scheduler.on(GetScheduleCommand).rejects(Object.assign(new Error('no'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }));
    await expect(deleteSchedule.verify(stepFor(), clients)).rejects.toMatchObject({ kind: 'denied', api: 'Scheduler.GetSchedule' });
  });

  it('is not reversed, gives a complete command, needs scheduler:DeleteSchedule and does not retrigger a rule', () => {
    expect(asType.reverse(stepFor())).toMatchObject({ kind: 'none' });
    expect(deleteSchedule.command(stepFor())).toBe(`aws scheduler delete-schedule --region 'eu-west-1' --name '${NAME}' --group-name 'default'`);
    expect(
      deleteSchedule.command({
        api: deleteSchedule.api,
        resource: RESOURCE,
        params: { Name: "x'y", GroupName: 'default' },
        previous: undefined,
        region: 'eu-west-1',
      }),
    ).toBe('no command: the schedule name in the event is not a valid schedule name');
    expect(deleteSchedule).toMatchObject({ api: 'Scheduler.DeleteSchedule', iam: 'scheduler:DeleteSchedule', clients: ['scheduler'], retriggers: false });
    expect(deleteSchedule).not.toHaveProperty('signature');
    expect(deleteSchedule.describe(stepFor())).toBe(`cancel the pending enforcement check ${NAME} (group default)`);
  });
});
