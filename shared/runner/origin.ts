/**
 * What started a run, as the record states it (trigger, id, who, what, where, when): a CloudTrail event, or a
 * finding of a sweep or a schedule, which carries no CloudTrail event and so invents none: its record names no
 * call, no caller and no call time (so no exposure figure), only its own id, account and Region.
 */
import { actorLabel, contentEventId, type CloudTrailEvent } from '../events/schema.js';
import type { RemediationRecord } from '../remediation-log.js';
import type { RuleFacts } from '../rule.js';

/** The record's fields that say what started the run. */
export type Origin = Pick<
  RemediationRecord,
  'trigger' | 'eventId' | 'eventName' | 'eventSource' | 'eventTime' | 'errorCode' | 'account' | 'region' | 'actor' | 'actorType' | 'sourceIp' | 'userAgent'
>;

/**
 * Facts a rule runs on that did not come from a CloudTrail call: a reconciliation sweep's finding (a public
 * bucket found by listing) or a scheduled check (an enforcement a grace period after a launch).
 */
export interface Finding {
  readonly trigger: 'sweep' | 'schedule';
  /** Names the finding: the record's `eventId` and its claim, so a re-run of one window or schedule is a duplicate. */
  readonly id: string;
  readonly account: string | undefined;
  readonly region: string;
  readonly facts: RuleFacts;
}

/** The origin of an event's run; an event that could not be read still gets an id of its own. */
export function eventOrigin(input: unknown, event: CloudTrailEvent | undefined): Origin {
  const detail = event?.detail;
  return {
    trigger: 'event',
    eventId: eventIdOf(input, event),
    eventName: detail?.eventName ?? null,
    eventSource: detail?.eventSource ?? null,
    eventTime: detail?.eventTime ?? null,
    errorCode: detail?.errorCode ?? null,
    account: event?.account ?? null,
    region: detail?.awsRegion ?? event?.region ?? null,
    actor: detail ? actorLabel(detail.actor) : null,
    actorType: detail ? (detail.actor.type === 'other' ? detail.actor.rawType : detail.actor.type) : null,
    sourceIp: detail?.sourceIp ?? null,
    userAgent: detail?.userAgent ?? null,
  };
}

/** The origin of a finding's run: its id, account and Region; no call, caller or call time. */
export function findingOrigin(finding: Pick<Finding, 'trigger' | 'id' | 'account' | 'region'>): Origin {
  return {
    trigger: finding.trigger,
    eventId: finding.id,
    eventName: null,
    eventSource: null,
    eventTime: null,
    errorCode: null,
    account: finding.account ?? null,
    region: finding.region,
    actor: null,
    actorType: null,
    sourceIp: null,
    userAgent: null,
  };
}

/** The event's id (the CloudTrail record's, else the envelope's), even for an event that could not be read. */
function eventIdOf(input: unknown, event: CloudTrailEvent | undefined): string {
  if (event) return event.detail.eventId ?? event.id;
  if (input && typeof input === 'object') {
    const candidate = (input as { id?: unknown; eventID?: unknown }).id ?? (input as { eventID?: unknown }).eventID;
    if (typeof candidate === 'string' && candidate !== '') return candidate;
  }
  // Even an unreadable event gets its own id: records of different events must not all read "unknown".
  return contentEventId(input);
}
