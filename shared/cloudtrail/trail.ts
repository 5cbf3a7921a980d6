/**
 * Pure helpers for the trail-logging rule: trail names and ARNs as CloudTrail accepts them, the
 * settings an UpdateTrail can weaken, and what a PutEventSelectors / PutInsightSelectors stops recording.
 */
import type { Severity } from '../rule.js';
import { parseArn } from '../events/normalize.js';

/** The CloudFormation type of a trail, as `ResourceRef.type`. */
export const TRAIL_TYPE = 'AWS::CloudTrail::Trail';

/** A trail as an event names it: always a name; ARN, home region and owner account when the event gave an ARN. */
export interface TrailRef {
  readonly name: string;
  readonly arn?: string;
  readonly region?: string;
  readonly account?: string;
}

// CloudTrail's rules (InvalidTrailNameException): letters, digits, `.`, `_`, `-`; starts and ends with a
// letter or digit; no two separators side by side (`my-_name`, `my--name`); 3–128 characters; not an IP.
const TRAIL_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9]|[._-](?=[A-Za-z0-9]))*$/;
const IP_ADDRESS = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const PARTITION = /^aws(?:-[a-z]+)*$/;
// Region codes such as us-east-1, us-gov-west-1, eusc-de-east-1: they become client endpoints, so no free text.
const REGION = /^[a-z]{2,4}(?:-[a-z]+)+-\d{1,2}$/;
const ACCOUNT = /^\d{12}$/;

/** True when CloudTrail would accept this as a trail name. */
export function isTrailName(value: string): boolean {
  return value.length >= 3 && value.length <= 128 && TRAIL_NAME.test(value) && !IP_ADDRESS.test(value);
}

/** A trail name or `arn:<partition>:cloudtrail:<region>:<account>:trail/<name>`; undefined for anything else. */
export function trailRefFrom(value: string): TrailRef | undefined {
  if (!value.startsWith('arn:')) return isTrailName(value) ? { name: value } : undefined;
  const arn = parseArn(value);
  if (arn?.service !== 'cloudtrail' || !PARTITION.test(arn.partition)) return undefined;
  if (!REGION.test(arn.region) || !ACCOUNT.test(arn.account)) return undefined;
  const [kind, name, ...rest] = arn.resource.split('/');
  if (kind !== 'trail' || name === undefined || rest.length > 0 || !isTrailName(name)) return undefined;
  return { name, arn: value, region: arn.region, account: arn.account };
}

/** Severity order, for the worst of several findings. */
const RANK: Readonly<Record<Severity, number>> = { LOW: 0, MEDIUM: 1, HIGH: 2, CRITICAL: 3 };

/** The most severe of the given severities (LOW for none). */
export function worstOf(severities: readonly Severity[]): Severity {
  return severities.reduce<Severity>((worst, s) => (RANK[s] > RANK[worst] ? s : worst), 'LOW');
}

/** The trail settings the rule reads (GetTrail's `Trail`, in AWS spelling). */
export interface TrailSettings {
  readonly Name?: string | undefined;
  readonly TrailARN?: string | undefined;
  readonly HomeRegion?: string | undefined;
  readonly S3BucketName?: string | undefined;
  readonly IsOrganizationTrail?: boolean | undefined;
  readonly IsMultiRegionTrail?: boolean | undefined;
  readonly IncludeGlobalServiceEvents?: boolean | undefined;
  readonly LogFileValidationEnabled?: boolean | undefined;
  readonly KmsKeyId?: string | undefined;
}

/** A setting an UpdateTrail can turn off; the keys are those of the rule's `restore` configuration. */
export type WeakenedSetting = 'logFileValidation' | 'multiRegion' | 'globalServiceEvents' | 'kmsKey';

interface SettingSpec {
  readonly label: string;
  readonly severity: Severity;
  /** Still off in the trail as read now. */
  readonly isOff: (trail: TrailSettings) => boolean;
  /** The UpdateTrail input that turns it back on; undefined when the value to restore cannot be known. */
  readonly restore?: { readonly input: 'EnableLogFileValidation' | 'IsMultiRegionTrail' | 'IncludeGlobalServiceEvents'; readonly read: keyof TrailSettings };
}

/** What each weakening means, how to see it in GetTrail and how UpdateTrail restores it. */
export const SETTINGS: Readonly<Record<WeakenedSetting, SettingSpec>> = {
  logFileValidation: {
    label: 'log file validation is off (log files can be altered undetected)',
    severity: 'HIGH',
    isOff: (t) => t.LogFileValidationEnabled !== true,
    restore: { input: 'EnableLogFileValidation', read: 'LogFileValidationEnabled' },
  },
  multiRegion: {
    label: 'the trail is not multi-Region (other Regions are not recorded)',
    severity: 'HIGH',
    isOff: (t) => t.IsMultiRegionTrail !== true,
    restore: { input: 'IsMultiRegionTrail', read: 'IsMultiRegionTrail' },
  },
  globalServiceEvents: {
    label: 'global service events (IAM, STS, CloudFront) are not recorded',
    severity: 'HIGH',
    isOff: (t) => t.IncludeGlobalServiceEvents !== true,
    restore: { input: 'IncludeGlobalServiceEvents', read: 'IncludeGlobalServiceEvents' },
  },
  // No restore: the previous key id is neither in the event nor readable once it is gone. Never "removed":
  // neither the event nor GetTrail shows whether there was a key before. LOW: no event goes unrecorded (log
  // files stay encrypted with S3-managed keys and validation still covers their integrity); the standing
  // state is a posture finding (Security Hub CloudTrail.2), not proof of tampering.
  kmsKey: {
    label: 'the trail is not encrypted with a KMS key (the update may have removed one, or it never had one)',
    severity: 'LOW',
    isOff: (t) => !t.KmsKeyId,
  },
};

/** The UpdateTrail request fields the rule reads (CloudTrail's camelCase record spelling). */
export interface UpdateTrailRequest {
  readonly enableLogFileValidation?: boolean | undefined;
  readonly isMultiRegionTrail?: boolean | undefined;
  readonly includeGlobalServiceEvents?: boolean | undefined;
  readonly kmsKeyId?: string | undefined;
}

/**
 * How an UpdateTrail request names its settings. `targeted`: only the trail and the settings it turns off
 * (`aws cloudtrail update-trail --no-is-multi-region-trail`, an SDK call, Terraform, which sends only the
 * attributes whose configuration changed): naming a setting is the evidence that the call changed it.
 * `full-form`: anything more (a setting left on, a bucket, a blank SNS topic…), as the console sends every
 * field of its form with its current value: `false` there may be what the trail always had. The console
 * cannot even change multi-Region (AWS: converting a single-Region trail takes the CLI), so its
 * `isMultiRegionTrail: false` is a single-Region trail edited for something else. When in doubt, full-form:
 * it costs an automatic restore (the rule alerts instead), never a change to a trail nobody weakened.
 */
export type UpdateShape = 'targeted' | 'full-form';

const WEAKENING_FLAGS: ReadonlySet<string> = new Set(['enableLogFileValidation', 'isMultiRegionTrail', 'includeGlobalServiceEvents']);

/** The shape of an UpdateTrail `requestParameters` (see UpdateShape). */
export function updateShapeOf(request: Readonly<Record<string, unknown>>): UpdateShape {
  const turnsOff = (key: string, value: unknown) => (WEAKENING_FLAGS.has(key) && value === false) || (key === 'kmsKeyId' && value === '');
  return Object.entries(request).every(([key, value]) => key === 'name' || turnsOff(key, value)) ? 'targeted' : 'full-form';
}

/**
 * The settings an UpdateTrail request turns off; the reasons say "is off after this update", never "was
 * turned off". `kmsKeyId: ""` counts only in a targeted request (an explicit "no key"): the console sends
 * `""` for every trail without a key, and the response then omits `kmsKeyId`, so a full-form edit of a trail
 * that never had a key looks exactly like one removing it (S/cloudtrail-UpdateTrail-records-file-no-weakening.json:
 * `kmsKeyId: ""` beside validation and multi-Region `true` and the CloudWatch Logs fields, no key in the
 * response). Alerting on every console edit of an unencrypted trail would teach people to ignore trail
 * alerts. `responseKmsKeyId` (present only when a key is set) rules out a removal either way.
 */
export function weakeningsInRequest(request: UpdateTrailRequest, responseKmsKeyId: string | undefined, shape: UpdateShape): WeakenedSetting[] {
  const found: WeakenedSetting[] = [];
  if (request.enableLogFileValidation === false) found.push('logFileValidation');
  if (request.isMultiRegionTrail === false) found.push('multiRegion');
  if (request.includeGlobalServiceEvents === false) found.push('globalServiceEvents');
  if (shape === 'targeted' && request.kmsKeyId === '' && !responseKmsKeyId) found.push('kmsKey');
  return found;
}

/** Why a setting that is off stays off; undefined when it is restored. */
function whyKept(setting: WeakenedSetting, shape: UpdateShape, restore: Readonly<Partial<Record<WeakenedSetting, boolean>>>): string | undefined {
  if (!SETTINGS[setting].restore) return 'the previous key id is unknown';
  if (shape === 'full-form')
    return 'the request sends every setting, as the console does, so it does not show that this call turned it off: turn it back on if it was on';
  return restore[setting] === true ? undefined : `restore.${setting} is off`;
}

/** What an UpdateTrail restore turns back on (`restorable`, plus what CloudTrail requires with it) and why the rest stays off. */
export interface RestorePlan {
  readonly restorable: readonly WeakenedSetting[];
  /** `restorable`, plus global service events when multi-Region needs them (`withGlobal`). */
  readonly restoring: readonly WeakenedSetting[];
  readonly withGlobal: boolean;
  /** "setting(s) (why)", one entry per reason. */
  readonly kept: readonly string[];
}

/**
 * Plans the restore of the settings still off. Only a targeted request is restored (see UpdateShape), and only
 * what configuration allows. CloudTrail refuses IsMultiRegionTrail=true while global service events are off
 * (InvalidParameterCombinationException: "Multi-Region trail must include global service events"), so restoring
 * multi-Region turns them on too, whatever `restore.globalServiceEvents` says; the caller's reason says so.
 */
export function restorePlan(
  off: readonly WeakenedSetting[],
  shape: UpdateShape,
  restore: Readonly<Partial<Record<WeakenedSetting, boolean>>>,
  globalServiceEventsOff: boolean,
): RestorePlan {
  const restorable = off.filter((s) => whyKept(s, shape, restore) === undefined);
  const withGlobal = restorable.includes('multiRegion') && !restorable.includes('globalServiceEvents') && globalServiceEventsOff;
  const restoring: readonly WeakenedSetting[] = withGlobal ? [...restorable, 'globalServiceEvents'] : restorable;
  const byReason = new Map<string, WeakenedSetting[]>();
  for (const s of off.filter((s) => !restoring.includes(s))) {
    const why = whyKept(s, shape, restore) ?? 'not restored';
    byReason.set(why, [...(byReason.get(why) ?? []), s]);
  }
  return { restorable, restoring, withGlobal, kept: [...byReason].map(([why, list]) => `${list.join(', ')} (${why})`) };
}

/** A finding about what a selector change stops recording. */
export interface Narrowing {
  readonly text: string;
  readonly severity: Severity;
}

/** A basic event selector as the record holds it (`includeManagementEvents` defaults to true, `readWriteType` to All). */
export interface EventSelector {
  readonly readWriteType?: string | undefined;
  readonly includeManagementEvents?: boolean | undefined;
  readonly excludeManagementEventSources?: readonly string[] | undefined;
  readonly dataResources?: readonly { readonly type?: string | undefined }[] | undefined;
}

/** An advanced event selector: `fieldSelectors` with `field` and `equals`/`notEquals`/… lists. */
export interface AdvancedEventSelector {
  readonly name?: string | undefined;
  readonly fieldSelectors: readonly {
    readonly field: string;
    readonly equals?: readonly string[] | undefined;
    readonly notEquals?: readonly string[] | undefined;
  }[];
}

type Coverage = { readonly reads: boolean; readonly writes: boolean; readonly excluded: readonly string[] };

// Every narrowing of management events is CRITICAL: what the trail stops recording is gone for good, and an
// intruder's next calls are exactly those. Writes are what every trailguard rule runs on; reads are the
// reconnaissance and data access (Describe*, List*, secretsmanager:GetSecretValue, kms:Decrypt); an excluded
// source (kms.amazonaws.com, rdsdata.amazonaws.com) loses all its management events, writes included
// (for KMS: DisableKey, ScheduleKeyDeletion).
function narrowingOf(coverage: Coverage | undefined): Narrowing[] {
  if (!coverage || (!coverage.reads && !coverage.writes)) return [{ text: 'management events are no longer recorded', severity: 'CRITICAL' }];
  const found: Narrowing[] = [];
  if (!coverage.writes) found.push({ text: 'write management events are no longer recorded (read-only)', severity: 'CRITICAL' });
  if (!coverage.reads)
    found.push({
      text: 'read management events are no longer recorded (write-only: reconnaissance and data reads such as GetSecretValue leave no record)',
      severity: 'CRITICAL',
    });
  if (coverage.excluded.length > 0) {
    found.push({
      text: `management events from ${coverage.excluded.join(', ')} are excluded (none of their calls, reads or writes, are recorded)`,
      severity: 'CRITICAL',
    });
  }
  return found;
}

/**
 * What a PutEventSelectors stops recording, from the selectors it set (the previous ones are not in the
 * event): management events off, read- or write-only, or excluded sources. `eventSelectors` is a real JSON
 * array (S/cloudtrail-PutEventSelectors-management-events-off.json).
 */
export function eventSelectorNarrowing(selectors: readonly EventSelector[]): Narrowing[] {
  const management = selectors.filter((s) => s.includeManagementEvents !== false);
  if (management.length === 0) return narrowingOf(undefined);
  const types = new Set(management.map((s) => s.readWriteType ?? 'All'));
  return narrowingOf({
    reads: types.has('All') || types.has('ReadOnly'),
    writes: types.has('All') || types.has('WriteOnly'),
    // A source excluded by one selector is still recorded if another management selector keeps it.
    excluded: [...new Set(management.flatMap((s) => s.excludeManagementEventSources ?? []))].filter((source) =>
      management.every((s) => (s.excludeManagementEventSources ?? []).includes(source)),
    ),
  });
}

/** The same for advanced selectors: management selectors are those with `eventCategory` equal to Management. */
export function advancedSelectorNarrowing(selectors: readonly AdvancedEventSelector[]): Narrowing[] {
  const management = selectors.filter((s) => s.fieldSelectors.some((f) => f.field === 'eventCategory' && f.equals?.includes('Management')));
  if (management.length === 0) return narrowingOf(undefined);
  const readOnlyValues = management.map((s) => s.fieldSelectors.find((f) => f.field === 'readOnly')?.equals);
  const excludedBy = management.map((s) => s.fieldSelectors.filter((f) => f.field === 'eventSource').flatMap((f) => f.notEquals ?? []));
  return narrowingOf({
    reads: readOnlyValues.some((v) => v === undefined || v.includes('true')),
    writes: readOnlyValues.some((v) => v === undefined || v.includes('false')),
    excluded: [...new Set(excludedBy.flat())].filter((source) => excludedBy.every((list) => list.includes(source))),
  });
}

/**
 * PutInsightSelectors with an empty list turns Insights off; any other list is a choice of types, not a loss
 * we can prove. HIGH, not CRITICAL: Insights is anomaly detection over events the trail still records (no
 * event goes unrecorded), so the loss is an alarm, not the record; the message says so.
 */
export function insightSelectorNarrowing(insightTypes: readonly string[]): Narrowing[] {
  return insightTypes.length === 0
    ? [
        {
          text: 'CloudTrail Insights is turned off: unusual API call and error rates are no longer detected (management events are still recorded; Insights is anomaly detection, not recording)',
          severity: 'HIGH',
        },
      ]
    : [];
}

/** One line describing the selectors that were set, for the operator who restores them. */
export function describeSelectors(basic: readonly EventSelector[] | undefined, advanced: readonly AdvancedEventSelector[] | undefined): string {
  if (advanced) {
    return `advanced selectors: ${advanced.map((s) => `${s.name ?? 'unnamed'} [${s.fieldSelectors.map((f) => `${f.field}${f.equals ? `=${f.equals.join('|')}` : ''}${f.notEquals ? `!=${f.notEquals.join('|')}` : ''}`).join(', ')}]`).join('; ')}`;
  }
  return `event selectors: ${
    (basic ?? [])
      .map((s) => {
        const data = (s.dataResources ?? []).map((d) => d.type ?? '?');
        const excluded = s.excludeManagementEventSources ?? [];
        return `management ${s.includeManagementEvents === false ? 'off' : 'on'}, ${s.readWriteType ?? 'All'}${excluded.length ? `, excluding ${excluded.join('|')}` : ''}${data.length ? `, data ${data.join('|')}` : ''}`;
      })
      .join('; ') || 'none'
  }`;
}
