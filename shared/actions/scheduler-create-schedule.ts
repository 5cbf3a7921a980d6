/** Scheduler.CreateSchedule: the one-time untagged-instance enforcement check, created beside the function it invokes. */
import { isScheduleName, regionArg } from '../aws/names.js';
import { createScheduleOnce, OneTimeSchedule, scheduleRegion, verifySchedule } from '../scheduler/one-time.js';
import { awsCommand, checked } from '../shell.js';
import { reverseStepOf, type ActionType, type Reversal, type SelfSignature } from './action.js';
import { deleteSchedule } from './scheduler-delete-schedule.js';

/** In trailguard's own account only, and no rule watches Scheduler: every CreateSchedule of its roles is its own. */
export const createScheduleSignature = {
  api: 'Scheduler.CreateSchedule',
  eventName: 'CreateSchedule',
  isOwnWrite: () => true,
} as const satisfies SelfSignature;

export const createSchedule = {
  // A literal, not `createScheduleSignature.api`: a property read at module level keeps esbuild from dropping this object (and
  // its SDK commands) from the bundles that import only the signature.
  api: 'Scheduler.CreateSchedule',
  // Scheduler also needs iam:PassRole on the target's role: the function's template grants it beside this.
  iam: 'scheduler:CreateSchedule',
  clients: ['scheduler'],
  params: OneTimeSchedule,
  previous: OneTimeSchedule,
  retriggers: false,
  signature: createScheduleSignature,
  // The schedule lives in its target function's Region, which may not be the launch's (the step's): that one is used.
  perform: async ({ params }, { scheduler }) => createScheduleOnce(scheduler(scheduleRegion(params)), params),
  verify: async ({ params }, { scheduler }) => verifySchedule(scheduler(scheduleRegion(params)), params),
  reverse({ params, resource }): Reversal {
    return {
      kind: 'manual',
      why: 'cancelling the pending enforcement check is left to a person; it deletes itself after it runs',
      steps: [reverseStepOf(deleteSchedule, { ...resource, region: scheduleRegion(params) }, { Name: params.Name, GroupName: params.GroupName }, params)],
    };
  },
  command: ({ params }) =>
    awsCommand('scheduler', 'create-schedule', {
      region: regionArg(scheduleRegion(params)),
      name: checked(params.Name, 'schedule name', isScheduleName),
      groupName: checked(params.GroupName, 'schedule group name', isScheduleName),
      scheduleExpression: params.ScheduleExpression,
      scheduleExpressionTimezone: params.ScheduleExpressionTimezone,
      flexibleTimeWindow: JSON.stringify(params.FlexibleTimeWindow),
      actionAfterCompletion: params.ActionAfterCompletion,
      state: params.State,
      description: params.Description,
      target: JSON.stringify(params.Target),
    }),
  describe: ({ params }) =>
    `schedule the enforcement check ${params.Name} at ${params.ScheduleExpression} ${params.ScheduleExpressionTimezone}, invoking ${params.Target.Arn}`,
} as const satisfies ActionType<OneTimeSchedule, OneTimeSchedule, 'scheduler'>;
