import { createHash } from 'node:crypto';
import * as v from 'valibot';
import { planOf, type PlannedAction } from '../../shared/actions/action.js';
import { createSchedule } from '../../shared/actions/scheduler-create-schedule.js';
import { parseArn } from '../../shared/events/normalize.js';
import { atExpression, type OneTimeSchedule } from '../../shared/scheduler/one-time.js';

// The contract between the two untagged-instance Lambdas: the tagging one plans a one-time schedule whose
// input is an EnforceInput, and the enforcement one reads it back. Both import this file, nothing else of each other.

/** Current instance ids are 17 hex digits, legacy ones 8 (docs/cloudtrail-shapes.md#instances). */
export const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

/** Every enforcement schedule's name starts with this: the tagging role may create and read only these. */
export const SCHEDULE_PREFIX = 'trailguard-enforce-';

/**
 * The least notice before a stop, when the grace period had already ended when the launch was decided (a
 * late or replayed event): the smallest grace the configuration accepts. A past `at()` would never run,
 * and the owner has only just been told (tags added, notification sent).
 */
export const MIN_NOTICE_MINUTES = 5;

/** The Scheduler `Input` of an enforcement check (JSON). */
export const EnforceInput = v.strictObject({
  instanceId: v.pipe(v.string(), v.regex(INSTANCE_ID, 'expected an EC2 instance id')),
  region: v.pipe(v.string(), v.regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'expected a region such as eu-west-1')),
  account: v.pipe(v.string(), v.regex(/^\d{12}$/, 'expected a 12-digit account id')),
  requiredTags: v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(128))), v.minLength(1)),
  sourceEventId: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
});
export type EnforceInput = v.InferOutput<typeof EnforceInput>;

/** Where the check goes: from TRAILGUARD_ENFORCE_FUNCTION_ARN and TRAILGUARD_SCHEDULER_ROLE_ARN. */
export interface EnforcementTarget {
  readonly functionArn: string | undefined;
  readonly roleArn: string | undefined;
}

/** `trailguard-enforce-<instance>-<10 hex of sha256(event id)>`: at most 47 characters, all valid in a name. */
export function scheduleNameFor(instanceId: string, sourceEventId: string): string {
  return `${SCHEDULE_PREFIX}${instanceId}-${createHash('sha256').update(sourceEventId).digest('hex').slice(0, 10)}`;
}

/** When the check runs: at the end of the grace period, or MIN_NOTICE after the read if that is already past. */
export function checkTime(launchedMs: number, graceMinutes: number, checkedAt: number | undefined): { readonly at: number; readonly late: boolean } {
  const graceEnd = launchedMs + graceMinutes * 60_000;
  const earliest = checkedAt === undefined ? graceEnd : checkedAt + MIN_NOTICE_MINUTES * 60_000;
  return graceEnd >= earliest ? { at: graceEnd, late: false } : { at: earliest, late: true };
}

/** The launch as the plan needs it. */
export interface EnforcementLaunch {
  readonly instanceIds: readonly string[];
  readonly launchedAt: string;
  readonly sourceEventId: string;
  /** Absent when the event names no account; trailguard acts in its own account, the function's. */
  readonly account: string | undefined;
  readonly region: string;
}

/** The schedules to plan, and what the record must say about enforcement. */
export interface EnforcementPlan {
  readonly actions: readonly PlannedAction[];
  readonly note: string;
  /** True when enforcement is on but cannot be scheduled: the decision is raised to MEDIUM. */
  readonly unscheduled: boolean;
}

/** Plans one `Scheduler.CreateSchedule` per instance; pure (the clock comes in as `checkedAt`, from inspect). */
export function planEnforcement(
  launch: EnforcementLaunch,
  settings: { readonly requiredTags: readonly string[]; readonly enforcement: { readonly enabled: boolean; readonly graceMinutes: number } },
  target: EnforcementTarget,
  checkedAt: number | undefined,
): EnforcementPlan {
  if (!settings.enforcement.enabled || launch.instanceIds.length === 0) return { actions: [], note: '', unscheduled: false };
  const { functionArn, roleArn } = target;
  if (!functionArn || !roleArn) {
    const unset = [functionArn ? '' : 'TRAILGUARD_ENFORCE_FUNCTION_ARN', roleArn ? '' : 'TRAILGUARD_SCHEDULER_ROLE_ARN'].filter(Boolean);
    return {
      actions: [],
      note: `; enforcement is enabled but NOT scheduled: ${unset.join(' and ')} not set, so no instance will be stopped`,
      unscheduled: true,
    };
  }
  const { at, late } = checkTime(Date.parse(launch.launchedAt), settings.enforcement.graceMinutes, checkedAt);
  const ScheduleExpression = atExpression(at);
  const actions = launch.instanceIds.map((instanceId): PlannedAction => {
    const account = launch.account ?? parseArn(functionArn)?.account ?? '';
    const input: EnforceInput = { instanceId, region: launch.region, account, requiredTags: [...settings.requiredTags], sourceEventId: launch.sourceEventId };
    const Name = scheduleNameFor(instanceId, launch.sourceEventId);
    const params: OneTimeSchedule = {
      Name,
      GroupName: 'default',
      ScheduleExpression,
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      State: 'ENABLED',
      Description: `trailguard: stop ${instanceId} if it still lacks ${settings.requiredTags.join(', ')}`,
      Target: { Arn: functionArn, RoleArn: roleArn, Input: JSON.stringify(input) },
    };
    // `name` is the instance: an exemption for the instance covers its enforcement schedule too.
    return planOf(createSchedule, { type: 'AWS::Scheduler::Schedule', id: Name, name: instanceId }, params);
  });
  const when = `${ScheduleExpression.slice(3, -1)}Z`;
  const why = late
    ? `the ${settings.enforcement.graceMinutes}-minute grace period had already ended (late event), so the check runs ${MIN_NOTICE_MINUTES} minutes after this decision`
    : `the end of the ${settings.enforcement.graceMinutes}-minute grace period`;
  return { actions, note: `; enforcement: stop check at ${when} (${why}) for ${launch.instanceIds.join(', ')}`, unscheduled: false };
}
