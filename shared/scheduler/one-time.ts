import { CreateScheduleCommand, GetScheduleCommand, type CreateScheduleCommandInput, type SchedulerClient } from '@aws-sdk/client-scheduler';
import { awsCall, hasErrorCode } from '../aws/errors.js';
import type { Verification } from '../rule.js';

/** A one-time EventBridge Scheduler schedule as trailguard plans it: every field a reviewer needs is set. */
export type OneTimeSchedule = CreateScheduleCommandInput & {
  readonly Name: string;
  readonly GroupName: string;
  readonly ScheduleExpression: string;
  readonly Target: { readonly Arn: string; readonly RoleArn: string; readonly Input: string };
};

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
    client.send(new GetScheduleCommand({ Name: params.Name, GroupName: params.GroupName })));
  const differs = [
    found.State === 'ENABLED' ? '' : `state ${found.State ?? 'unknown'}`,
    found.Target?.Arn === params.Target.Arn ? '' : `target ${found.Target?.Arn ?? 'none'}`,
    found.Target?.RoleArn === params.Target.RoleArn ? '' : `role ${found.Target?.RoleArn ?? 'none'}`,
    found.Target?.Input === params.Target.Input ? '' : 'input',
  ].filter(Boolean);
  return differs.length === 0
    ? { ok: true, detail: `schedule ${params.Name} is enabled: ${found.ScheduleExpression} ${found.ScheduleExpressionTimezone ?? ''} invokes ${params.Target.Arn}` }
    : { ok: false, detail: `schedule ${params.Name} is not as planned: ${differs.join(', ')}` };
}
