/** The human part of trail-logging notifications: what happened to which trail, and the commands to check or restore it. */
import * as v from 'valibot';
import { startLogging } from '../actions/cloudtrail-start-logging.js';
import { regionArg } from '../aws/names.js';
import type { RemediationRecord } from '../remediation-log.js';
import type { FindingCode, Message } from '../rule.js';
import { awsCommand, checked, noCommand, placeholder, refusedIn, type Checked } from '../shell.js';
import { isTrailRef, TrailSettingInputs } from './trail-actions.js';
import { isTrailName, TRAIL_TYPE } from './trail.js';

const BLIND = 'Until the trail logs again, no other trailguard rule can see this account: changes made meanwhile leave no CloudTrail record.';

/**
 * The finding of a trail that was stopped or weakened and is gone when read (decided as a CRITICAL alert): the
 * message then gives recovery steps instead of a restart.
 */
export const TRAIL_GONE_AFTER_CHANGE: FindingCode = 'trail-gone-after-change';

const FULL_MANAGEMENT = '[{"ReadWriteType":"All","IncludeManagementEvents":true}]';
const ALL_INSIGHTS = '[{"InsightType":"ApiCallRateInsight"},{"InsightType":"ApiErrorRateInsight"}]';

/** The trail and Region of a record, each refused (no command) unless CloudTrail would accept it. */
interface Where {
  /** The trail's ARN or name, for the calls that take either. */
  readonly trail: Checked;
  /** The plain name, for CreateTrail. */
  readonly name: Checked;
  readonly region: Checked;
}

/** A stopped or weakened trail found gone (see TRAIL_GONE_AFTER_CHANGE). */
const isGoneAfterChange = (record: RemediationRecord) => record.outcome === 'alerted' && record.finding === TRAIL_GONE_AFTER_CHANGE;

/** The restart: StartLogging's own command (the action type's, as the rule performs it), or why there is none. */
function restart(name: Checked, region: Checked): string {
  if ('invalid' in name) return noCommand(name.invalid);
  if ('invalid' in region) return noCommand(region.invalid);
  const trail = { type: TRAIL_TYPE, id: name.valid, region: region.valid };
  return startLogging.command({ api: startLogging.api, resource: trail, params: { Name: name.valid }, previous: undefined, region: region.valid });
}

/** Titles by outcome for the two calls trailguard can undo; everything else is "trail tampering". */
function titleFor(record: RemediationRecord, name: string): string {
  const what = record.eventName === 'StopLogging' ? 'restart stopped' : 'restore weakened';
  if (record.errorCode) return `Failed trail tampering: ${record.eventName ?? 'call'} on ${name}`;
  if (isGoneAfterChange(record)) return `Trail ${name} ${record.eventName === 'StopLogging' ? 'stopped' : 'weakened'}, then gone (deleted?)`;
  switch (record.outcome) {
    case 'remediated':
      return record.eventName === 'StopLogging' ? `Stopped trail ${name} restarted` : `Weakened trail ${name} restored`;
    case 'would-remediate':
      return `Would ${what} trail ${name}`;
    case 'failed':
      return `FAILED to ${what} trail ${name}`;
    default:
      return `Trail tampering: ${record.eventName ?? 'call'} on ${name}`;
  }
}

/** CreateTrail, then StartLogging: the two commands that bring a deleted trail back (its bucket is not in the event). */
function recreate({ name, region }: Where): string {
  const refused = refusedIn({ name, region });
  if (refused) return noCommand(refused);
  const create = awsCommand('cloudtrail', 'create-trail', {
    name,
    s3BucketName: placeholder('<bucket>'),
    isMultiRegionTrail: true,
    enableLogFileValidation: true,
    region,
  });
  return `${create}, then ${restart(name, region)}`;
}

/** A trail that is gone: what is left, who deleted it, and how to bring it back. */
function recoveryFor(where: Where): string[] {
  const { region } = where;
  const refused = refusedIn({ region });
  const remaining = refused
    ? noCommand(refused)
    : `${awsCommand('cloudtrail', 'describe-trails', { region })}, then ${awsCommand('cloudtrail', 'get-trail-status', { name: placeholder('<trail>'), region })}`;
  return [
    'If it was the only trail, no trail records this account now: changes made meanwhile reach no log file, and trailguard may not see them.',
    `Check which trails remain and log: ${remaining}`,
    `Find who deleted it (Event history keeps 90 days of management events, trail or not): ${awsCommand('cloudtrail', 'lookup-events', { lookupAttributes: 'AttributeKey=EventName,AttributeValue=DeleteTrail', region })}`,
    `Recreate it with its bucket and key (see AWS Config or its last CreateTrail/UpdateTrail): ${recreate(where)}`,
  ];
}

/** The read that shows the trail's state after this call, by call. */
function checkFor(eventName: string | null, { trail, region }: Where): string | undefined {
  switch (eventName) {
    case 'StopLogging':
      return awsCommand('cloudtrail', 'get-trail-status', { name: trail, region });
    case 'DeleteTrail':
    case 'UpdateTrail':
      return awsCommand('cloudtrail', 'get-trail', { name: trail, region });
    case 'PutEventSelectors':
      return awsCommand('cloudtrail', 'get-event-selectors', { trailName: trail, region });
    case 'PutInsightSelectors':
      return awsCommand('cloudtrail', 'get-insight-selectors', { trailName: trail, region });
    default:
      return undefined;
  }
}

/**
 * A failed call (`errorCode` set) changed nothing: a check, never a restart or restore. A `put-event-selectors`
 * "restore" after a denied call would wipe the trail's data-event selectors for nothing.
 */
function failedAttemptLines(record: RemediationRecord, where: Where): string[] {
  const check = checkFor(record.eventName, where);
  return [
    `The ${record.eventName ?? 'call'} failed (${record.errorCode ?? 'error'}): it changed nothing, so there is nothing to restart or restore. Find out who tried, and why (actor below).`,
    ...(check ? [`Check: ${check}`] : []),
  ];
}

/** What to run, by call, for a call that took effect. */
function commandsFor(record: RemediationRecord, where: Where): string[] {
  const { trail, region } = where;
  const check = checkFor(record.eventName, where);
  switch (record.eventName) {
    case 'StopLogging':
      return record.outcome === 'remediated'
        ? [
            `Calls made between the StopLogging (${record.eventTime ?? 'see the event'}) and the restart were not recorded: review that window from other sources.`,
          ]
        : [BLIND, `Check: ${check}`, `Restart: ${restart(trail, region)}`];
    case 'DeleteTrail':
      return [
        BLIND,
        `Check: ${check}`,
        `If it is gone, recreate it with its bucket and key (not in the DeleteTrail event: see AWS Config or its last CreateTrail/UpdateTrail): ${recreate(where)}`,
      ];
    case 'PutEventSelectors':
      return [
        `Check: ${check}`,
        `Restore all management events (then add back any data-event selectors you rely on): ${awsCommand('cloudtrail', 'put-event-selectors', { trailName: trail, region, eventSelectors: FULL_MANAGEMENT })}`,
      ];
    case 'PutInsightSelectors':
      return [`Check: ${check}`, `Restore: ${awsCommand('cloudtrail', 'put-insight-selectors', { trailName: trail, region, insightSelectors: ALL_INSIGHTS })}`];
    case 'UpdateTrail':
      return [`Check: ${check}`];
    default:
      return [];
  }
}

/**
 * What an UpdateTrail restore replaced, for a person. The command that reverses it is added by the notifier, from
 * the action type (as report and undo print it).
 */
function beforeUpdate(record: RemediationRecord): string[] {
  const action = record.actions.find((a) => a.api === 'CloudTrail.UpdateTrail');
  const previous = v.safeParse(TrailSettingInputs, action?.previous);
  return previous.success && record.outcome === 'remediated' ? [`Before: ${JSON.stringify(previous.output)}`] : [];
}

/** Subject and body lines for a trail-logging record. */
export function trailMessage(record: RemediationRecord): Message {
  const resource = record.resources[0];
  const name = resource?.name ?? resource?.id ?? 'unknown';
  const where: Where = {
    trail: checked(resource?.id, 'trail name', isTrailRef),
    name: checked(resource?.name ?? resource?.id, 'trail name', isTrailName),
    region: regionArg(resource?.region ?? record.region),
  };
  const lines = record.errorCode
    ? failedAttemptLines(record, where)
    : isGoneAfterChange(record)
      ? recoveryFor(where)
      : [...commandsFor(record, where), ...beforeUpdate(record)];
  return { title: titleFor(record, name), lines };
}
