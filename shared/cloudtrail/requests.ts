/** The CloudTrail request shapes the trail-logging rule reads, and its decision for a failed tamper attempt. */
import * as v from 'valibot';
import type { CloudTrailRecord } from '../events/schema.js';
import { alert, type Decision, type ResourceRef } from '../rule.js';
import {
  advancedSelectorNarrowing,
  eventSelectorNarrowing,
  insightSelectorNarrowing,
  TRAIL_TYPE,
  trailRefFrom,
  updateShapeOf,
  weakeningsInRequest,
} from './trail.js';

const Flag = v.optional(v.boolean());
const Strings = v.optional(v.array(v.string()));

/** UpdateTrail: the settings it can turn off (booleans in real records; the console sends every field). */
export const UpdateRequest = v.looseObject({
  enableLogFileValidation: Flag,
  isMultiRegionTrail: Flag,
  includeGlobalServiceEvents: Flag,
  kmsKeyId: v.optional(v.string()),
});

/** UpdateTrail / PutEventSelectors responses: `trailARN`, and `kmsKeyId` only when a key is set; null on StopLogging. */
export const TrailResponse = v.nullish(v.looseObject({ trailARN: v.optional(v.string()), kmsKeyId: v.optional(v.string()) }));

/** PutEventSelectors: basic `eventSelectors` or `advancedEventSelectors`, real JSON arrays (docs/cloudtrail-shapes.md#lists). */
export const SelectorRequest = v.looseObject({
  eventSelectors: v.optional(
    v.array(
      v.looseObject({
        readWriteType: v.optional(v.string()),
        includeManagementEvents: Flag,
        excludeManagementEventSources: Strings,
        dataResources: v.optional(v.array(v.looseObject({ type: v.optional(v.string()) }))),
      }),
    ),
  ),
  advancedEventSelectors: v.optional(
    v.array(
      v.looseObject({
        name: v.optional(v.string()),
        fieldSelectors: v.array(v.looseObject({ field: v.string(), equals: Strings, notEquals: Strings })),
      }),
    ),
  ),
});

/** PutInsightSelectors: `insightSelectors: [{insightType}]`; an empty list turns Insights off. */
export const InsightRequest = v.looseObject({ insightSelectors: v.array(v.looseObject({ insightType: v.string() })) });

/** The request field naming the trail: PutEventSelectors and PutInsightSelectors say `trailName` (docs/cloudtrail-shapes.md#trails). */
export function nameFieldOf(eventName: string): 'name' | 'trailName' {
  return eventName === 'PutEventSelectors' || eventName === 'PutInsightSelectors' ? 'trailName' : 'name';
}

/** True when a request (successful or not) would weaken the trail; unreadable requests count as attempts. */
function wouldWeaken(eventName: string, request: unknown): boolean {
  switch (eventName) {
    case 'UpdateTrail': {
      const update = v.safeParse(UpdateRequest, request);
      return !update.success || weakeningsInRequest(update.output, undefined, updateShapeOf(update.output)).length > 0;
    }
    case 'PutEventSelectors': {
      const selectors = v.safeParse(SelectorRequest, request);
      if (!selectors.success) return true;
      const { eventSelectors, advancedEventSelectors } = selectors.output;
      return (advancedEventSelectors ? advancedSelectorNarrowing(advancedEventSelectors) : eventSelectorNarrowing(eventSelectors ?? [])).length > 0;
    }
    case 'PutInsightSelectors': {
      const insights = v.safeParse(InsightRequest, request);
      return !insights.success || insightSelectorNarrowing(insights.output.insightSelectors.map((s) => s.insightType)).length > 0;
    }
    default:
      return true; // StopLogging, DeleteTrail: the attempt itself is the finding
  }
}

// Codes showing that a policy (IAM, SCP, Organizations) blocked the call, not a typo or a missing trail.
const BLOCKED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'NotOrganizationMasterAccountException',
  'OperationNotPermittedException',
]);

const VERBS: Readonly<Record<string, string>> = {
  StopLogging: 'stop',
  DeleteTrail: 'delete',
  UpdateTrail: 'weaken',
  PutEventSelectors: 'narrow the event selectors of',
  PutInsightSelectors: 'turn off Insights on',
};

/**
 * A failed tamper attempt (`errorCode` set) is an alert, never a remediation: nothing changed, but someone
 * tried. HIGH when a policy blocked it; MEDIUM when the trail name or Region was wrong (InvalidTrailNameException,
 * TrailNotFoundException, InvalidHomeRegionException): still worth a look, as attackers guess trail names and Regions.
 */
export function failedAttempt(record: CloudTrailRecord, settings: { readonly alertOnFailedAttempts: boolean }): Decision | undefined {
  if (!settings.alertOnFailedAttempts || !wouldWeaken(record.eventName, record.requestParameters)) return undefined;
  const request = (record.requestParameters ?? {}) as Record<string, unknown>;
  const raw = request[nameFieldOf(record.eventName)];
  // The name may be what CloudTrail refused: shown (bounded; the notifier escapes it), never used in a call.
  const ref = typeof raw === 'string' ? trailRefFrom(raw) : undefined;
  const shown = typeof raw === 'string' ? raw.slice(0, 256) : 'an unnamed trail';
  const resource: ResourceRef = ref
    ? { type: TRAIL_TYPE, id: ref.arn ?? ref.name, name: ref.name, ...(ref.region ? { region: ref.region } : {}) }
    : { type: TRAIL_TYPE, id: shown };
  const code = record.errorCode ?? 'unknown error';
  const blocked = BLOCKED.has(code);
  return alert(
    `an attempt to ${VERBS[record.eventName] ?? record.eventName} trail ${ref?.name ?? shown} failed (${code}${blocked ? ': blocked by policy' : ''}): nothing changed, but someone tried to tamper with the audit trail`,
    blocked ? 'HIGH' : 'MEDIUM',
    [resource],
  );
}
