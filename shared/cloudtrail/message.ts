/** The human part of trail-logging notifications: what happened to which trail, and the commands to check or restore it. */
import type { RemediationRecord } from '../remediation-log.js';
import type { Message } from '../rule.js';

const BLIND = 'Until the trail logs again, no other trailguard rule can see this account: changes made meanwhile leave no CloudTrail record.';

/**
 * The words a trail-logging reason carries when a trail that was stopped or weakened is gone when read
 * (decided as a CRITICAL alert): the message then gives recovery steps instead of a restart.
 */
export const GONE_AFTER_CHANGE = 'and no longer exists: deleted?';

const FULL_MANAGEMENT = `'[{"ReadWriteType":"All","IncludeManagementEvents":true}]'`;
const ALL_INSIGHTS = `'[{"InsightType":"ApiCallRateInsight"},{"InsightType":"ApiErrorRateInsight"}]'`;

/** A stopped or weakened trail found gone (see GONE_AFTER_CHANGE). */
const isGoneAfterChange = (record: RemediationRecord) => record.outcome === 'alerted' && record.reason.includes(GONE_AFTER_CHANGE);

/** Titles by outcome for the two calls trailguard can undo; everything else is "trail tampering". */
function titleFor(record: RemediationRecord, name: string): string {
  const what = record.eventName === 'StopLogging' ? 'restart stopped' : 'restore weakened';
  if (isGoneAfterChange(record)) return `Trail ${name} ${record.eventName === 'StopLogging' ? 'stopped' : 'weakened'}, then gone (deleted?)`;
  switch (record.outcome) {
    case 'remediated': return record.eventName === 'StopLogging' ? `Stopped trail ${name} restarted` : `Weakened trail ${name} restored`;
    case 'would-remediate': return `Would ${what} trail ${name}`;
    case 'failed': return `FAILED to ${what} trail ${name}`;
    default: return `Trail tampering: ${record.eventName ?? 'call'} on ${name}`;
  }
}

/** A trail that is gone: what is left, who deleted it, and how to bring it back. */
function recoveryFor(name: string, region: string): string[] {
  const at = `--region ${region}`;
  return [
    'If it was the only trail, no trail records this account now: changes made meanwhile reach no log file, and trailguard may not see them.',
    `Check which trails remain and log: aws cloudtrail describe-trails ${at}, then aws cloudtrail get-trail-status --name <trail> ${at}`,
    `Find who deleted it (Event history keeps 90 days of management events, trail or not): aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=DeleteTrail ${at}`,
    `Recreate it with its bucket and key (see AWS Config or its last CreateTrail/UpdateTrail): aws cloudtrail create-trail --name ${name} --s3-bucket-name <bucket> --is-multi-region-trail --enable-log-file-validation ${at}, then aws cloudtrail start-logging --name ${name} ${at}`,
  ];
}

/** What to run, by call: checks that fit a failed attempt as well as a change that took effect. */
function commandsFor(record: RemediationRecord, id: string, region: string): string[] {
  const at = `--region ${region}`;
  switch (record.eventName) {
    case 'StopLogging':
      return record.outcome === 'remediated'
        ? [`Calls made between the StopLogging (${record.eventTime ?? 'see the event'}) and the restart were not recorded: review that window from other sources.`]
        : [BLIND, `Check: aws cloudtrail get-trail-status --name ${id} ${at}`, `Restart: aws cloudtrail start-logging --name ${id} ${at}`];
    case 'DeleteTrail':
      return [BLIND, `Check: aws cloudtrail get-trail --name ${id} ${at}`,
        `If it is gone, recreate it with its bucket and key (not in the DeleteTrail event: see AWS Config or its last CreateTrail/UpdateTrail): aws cloudtrail create-trail --name ${id} --s3-bucket-name <bucket> --is-multi-region-trail --enable-log-file-validation ${at}, then aws cloudtrail start-logging --name ${id} ${at}`];
    case 'PutEventSelectors':
      return [`Check: aws cloudtrail get-event-selectors --trail-name ${id} ${at}`,
        `Restore all management events (then add back any data-event selectors you rely on): aws cloudtrail put-event-selectors --trail-name ${id} ${at} --event-selectors ${FULL_MANAGEMENT}`];
    case 'PutInsightSelectors':
      return [`Check: aws cloudtrail get-insight-selectors --trail-name ${id} ${at}`,
        `Restore: aws cloudtrail put-insight-selectors --trail-name ${id} ${at} --insight-selectors ${ALL_INSIGHTS}`];
    case 'UpdateTrail':
      return [`Check: aws cloudtrail get-trail --name ${id} ${at}`];
    default:
      return [];
  }
}

/** `previous` of an UpdateTrail restore, as the CLI flags that put it back. */
function reverseUpdate(record: RemediationRecord, id: string, region: string): string[] {
  const action = record.actions.find((a) => a.api === 'CloudTrail.UpdateTrail');
  const previous = action?.previous as Readonly<Record<string, boolean>> | undefined;
  if (!previous || record.outcome !== 'remediated') return [];
  const flag = (input: string) => input.replace(/[A-Z]/g, (c, i: number) => `${i > 0 ? '-' : ''}${c.toLowerCase()}`);
  const flags = Object.entries(previous).map(([input, value]) => `--${value ? '' : 'no-'}${flag(input)}`);
  return [`Before: ${JSON.stringify(previous)}`, `To reverse: aws cloudtrail update-trail --name ${id} --region ${region} ${flags.join(' ')}`];
}

/** Subject and body lines for a trail-logging record. */
export function trailMessage(record: RemediationRecord): Message {
  const resource = record.resources[0];
  const name = resource?.name ?? resource?.id ?? 'unknown';
  const id = resource?.id ?? name;
  const region = resource?.region ?? record.region ?? 'us-east-1';
  return {
    title: titleFor(record, name),
    lines: isGoneAfterChange(record) ? recoveryFor(name, region) : [...commandsFor(record, id, region), ...reverseUpdate(record, id, region)],
  };
}
