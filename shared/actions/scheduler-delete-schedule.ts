/** Scheduler.DeleteSchedule: cancels a pending enforcement check (a person's reversal of Scheduler.CreateSchedule). */
import { DeleteScheduleCommand, GetScheduleCommand } from '@aws-sdk/client-scheduler';
import * as v from 'valibot';
import { awsCall, hasErrorCode } from '../aws/errors.js';
import { isScheduleName, regionArg } from '../aws/names.js';
import { OneTimeSchedule } from '../scheduler/one-time.js';
import { awsCommand, checked } from '../shell.js';
import type { ActionType } from './action.js';

const ScheduleName = v.pipe(v.string(), v.check(isScheduleName, 'a schedule name (1-64 of letters, digits, -, _, .)'));

/** The schedule, by name and group; the Region is the step's (the schedule's own, from the resource). */
export const DeleteScheduleParams = v.strictObject({ Name: ScheduleName, GroupName: ScheduleName });
export type DeleteScheduleParams = v.InferOutput<typeof DeleteScheduleParams>;

export const deleteSchedule = {
  api: 'Scheduler.DeleteSchedule',
  iam: 'scheduler:DeleteSchedule',
  clients: ['scheduler'],
  params: DeleteScheduleParams,
  // What it deletes: the schedule as it was created.
  previous: OneTimeSchedule,
  retriggers: false,
  async perform({ params, region }, { scheduler }) {
    try {
      await scheduler(region).send(new DeleteScheduleCommand(params));
    } catch (error) {
      // Already deleted (it ran, or a person deleted it): the read-back decides.
      if (!hasErrorCode(error, 'ResourceNotFoundException')) throw error;
    }
  },
  async verify({ params, region }, { scheduler }) {
    const found = await awsCall('Scheduler.GetSchedule', params.Name, async () => {
      try {
        return await scheduler(region).send(new GetScheduleCommand(params));
      } catch (error) {
        if (hasErrorCode(error, 'ResourceNotFoundException')) return undefined;
        throw error;
      }
    });
    return found === undefined
      ? { ok: true, detail: `schedule ${params.Name} reads back as deleted` }
      : { ok: false, detail: `schedule ${params.Name} still exists (${found.State ?? 'state unknown'}, ${found.ScheduleExpression ?? 'no expression'})` };
  },
  reverse: () => ({ kind: 'none', why: 'a cancelled enforcement check is not put back: the instance is no longer checked for its tags' }),
  command: ({ params, region }) =>
    awsCommand('scheduler', 'delete-schedule', {
      region: regionArg(region),
      name: checked(params.Name, 'schedule name', isScheduleName),
      groupName: checked(params.GroupName, 'schedule group name', isScheduleName),
    }),
  describe: ({ params }) => `cancel the pending enforcement check ${params.Name} (group ${params.GroupName})`,
} as const satisfies ActionType<DeleteScheduleParams, OneTimeSchedule, 'scheduler'>;
