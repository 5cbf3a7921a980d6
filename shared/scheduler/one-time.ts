import { CreateScheduleCommand, GetScheduleCommand, type SchedulerClient } from '@aws-sdk/client-scheduler';
import * as v from 'valibot';
import { awsCall, hasErrorCode } from '../aws/errors.js';
import { isRegionName, isScheduleName } from '../aws/names.js';
import { parseArn } from '../events/normalize.js';
import type { Verification } from '../rule.js';

const ScheduleName = v.pipe(v.string(), v.check(isScheduleName, 'a schedule name (1-64 of letters, digits, -, _, .)'));
// As the configuration takes TRAILGUARD_ENFORCE_FUNCTION_ARN and TRAILGUARD_SCHEDULER_ROLE_ARN.
const FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

/** The Region of a Lambda function ARN (the schedule lives beside its target), or undefined. */
export function regionOfFunctionArn(functionArn: string): string | undefined {
  return parseArn(functionArn)?.region || undefined;
}

/**
 * A one-time EventBridge Scheduler schedule as trailguard plans it (the params of Scheduler.CreateSchedule): every
 * field a reviewer needs is set, and the target is a Lambda function in a named Region, where the schedule lives.
 */
export const OneTimeSchedule = v.strictObject({
  Name: ScheduleName,
  GroupName: ScheduleName,
  ScheduleExpression: v.pipe(v.string(), v.regex(/^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$/, 'a one-time at(yyyy-mm-ddThh:mm:ss) expression')),
  ScheduleExpressionTimezone: v.literal('UTC'),
  FlexibleTimeWindow: v.strictObject({ Mode: v.literal('OFF') }),
  ActionAfterCompletion: v.literal('DELETE'),
  State: v.literal('ENABLED'),
  Description: v.pipe(v.string(), v.maxLength(512)),
  Target: v.strictObject({
    Arn: v.pipe(
      v.string(),
      v.regex(FUNCTION_ARN, 'a Lambda function ARN'),
      v.check((arn) => isRegionName(regionOfFunctionArn(arn) ?? ''), 'a Lambda function ARN with its Region'),
    ),
    RoleArn: v.pipe(v.string(), v.regex(ROLE_ARN, 'an IAM role ARN')),
    Input: v.pipe(v.string(), v.maxLength(8192)),
  }),
});
export type OneTimeSchedule = v.InferOutput<typeof OneTimeSchedule>;

/** The Region a validated schedule lives in: its target function's, whatever the launch's Region. */
export function scheduleRegion(schedule: OneTimeSchedule): string {
  return regionOfFunctionArn(schedule.Target.Arn) ?? '';
}

/**
 * `at(yyyy-mm-ddThh:mm:ss)` for a time in ms, in UTC (the schedule sets `ScheduleExpressionTimezone: 'UTC'`),
 * rounded up to the second so that the check never runs earlier than asked.
 */
export function atExpression(ms: number): string {
  return `at(${new Date(Math.ceil(ms / 1000) * 1000).toISOString().slice(0, 19)})`;
}

/**
 * Creates the schedule. Its name is derived from the triggering event, so a redelivered event finds the
 * schedule its first delivery created (ConflictException): that one is kept, and the read-back judges it.
 */
export async function createScheduleOnce(client: SchedulerClient, params: OneTimeSchedule): Promise<void> {
  try {
    await client.send(new CreateScheduleCommand(params));
  } catch (error) {
    if (!hasErrorCode(error, 'ConflictException')) throw error;
  }
}

/** Reads the schedule back: enabled, with the planned target, role and input (the time may differ on a redelivery). */
export async function verifySchedule(client: SchedulerClient, params: OneTimeSchedule): Promise<Verification> {
  const found = await awsCall('Scheduler.GetSchedule', params.Name, () =>
    client.send(new GetScheduleCommand({ Name: params.Name, GroupName: params.GroupName })),
  );
  const differs = [
    found.State === 'ENABLED' ? '' : `state ${found.State ?? 'unknown'}`,
    found.Target?.Arn === params.Target.Arn ? '' : `target ${found.Target?.Arn ?? 'none'}`,
    found.Target?.RoleArn === params.Target.RoleArn ? '' : `role ${found.Target?.RoleArn ?? 'none'}`,
    found.Target?.Input === params.Target.Input ? '' : 'input',
  ].filter(Boolean);
  return differs.length === 0
    ? {
        ok: true,
        detail: `schedule ${params.Name} is enabled: ${found.ScheduleExpression} ${found.ScheduleExpressionTimezone ?? ''} invokes ${params.Target.Arn}`,
      }
    : { ok: false, detail: `schedule ${params.Name} is not as planned: ${differs.join(', ')}` };
}
