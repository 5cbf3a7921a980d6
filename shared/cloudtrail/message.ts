/** The human part of trail-logging notifications: what happened to which trail, and the commands to check or restore it. */
import type { RemediationRecord } from '../remediation-log.js';
import type { Message } from '../rule.js';

const BLIND = 'Until the trail logs again, no other trailguard rule can see this account: changes made meanwhile leave no CloudTrail record.';

const FULL_MANAGEMENT = `'[{"ReadWriteType":"All","IncludeManagementEvents":true}]'`;
const ALL_INSIGHTS = `'[{"InsightType":"ApiCallRateInsight"},{"InsightType":"ApiErrorRateInsight"}]'`;

/** Titles by outcome for the two calls trailguard can undo; everything else is "trail tampering". */
function titleFor(record: RemediationRecord, name: string): string {
  const what = record.eventName === 'StopLogging' ? 'restart stopped' : 'restore weakened';
  switch (record.outcome) {
    case 'remediated': return record.eventName === 'StopLogging' ? `Stopped trail ${name} restarted` : `Weakened trail ${name} restored`;
    case 'would-remediate': return `Would ${what} trail ${name}`;
    case 'failed': return `FAILED to ${what} trail ${name}`;
    default: return `Trail tampering: ${record.eventName ?? 'call'} on ${name}`;
  }
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
    lines: [...commandsFor(record, id, region), ...reverseUpdate(record, id, region)],
  };
}
