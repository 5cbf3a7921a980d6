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
  if (!arn || arn.service !== 'cloudtrail' || !PARTITION.test(arn.partition)) return undefined;
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
    label: 'the trail is no longer multi-Region (other Regions are not recorded)',
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
  // No restore: the previous key id is neither in the event nor readable once it is gone.
  kmsKey: {
    label: 'the trail has no KMS key (log files are encrypted with S3-managed keys only)',
    severity: 'MEDIUM',
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
 * The settings an UpdateTrail request turns off. A console edit sends every field with its current value
 * (`kmsKeyId: ""` when unset), so "set to false" may also mean "was already false": the reasons say "is off
 * after this update", never "was turned off". `responseKmsKeyId` (present only when a key is set) rules out
 * a key removal when the response still names a key (S/cloudtrail-UpdateTrail-records-file-no-weakening.json).
 */
export function weakeningsInRequest(request: UpdateTrailRequest, responseKmsKeyId: string | undefined): WeakenedSetting[] {
  const found: WeakenedSetting[] = [];
  if (request.enableLogFileValidation === false) found.push('logFileValidation');
  if (request.isMultiRegionTrail === false) found.push('multiRegion');
  if (request.includeGlobalServiceEvents === false) found.push('globalServiceEvents');
  if (request.kmsKeyId === '' && !responseKmsKeyId) found.push('kmsKey');
  return found;
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
  readonly fieldSelectors: readonly { readonly field: string; readonly equals?: readonly string[] | undefined; readonly notEquals?: readonly string[] | undefined }[];
}

type Coverage = { readonly reads: boolean; readonly writes: boolean; readonly excluded: readonly string[] };

function narrowingOf(coverage: Coverage | undefined): Narrowing[] {
  // Write management events are what every trailguard rule runs on: losing them blinds the account.
  if (!coverage || (!coverage.reads && !coverage.writes)) return [{ text: 'management events are no longer recorded', severity: 'CRITICAL' }];
  const found: Narrowing[] = [];
  if (!coverage.writes) found.push({ text: 'write management events are no longer recorded (read-only)', severity: 'CRITICAL' });
  if (!coverage.reads) found.push({ text: 'read management events are no longer recorded (write-only)', severity: 'HIGH' });
  if (coverage.excluded.length > 0) found.push({ text: `management events from ${coverage.excluded.join(', ')} are excluded`, severity: 'HIGH' });
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
    excluded: [...new Set(management.flatMap((s) => s.excludeManagementEventSources ?? []))]
      .filter((source) => management.every((s) => (s.excludeManagementEventSources ?? []).includes(source))),
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

/** PutInsightSelectors with an empty list turns Insights off; any other list is a choice of types, not a loss we can prove. */
export function insightSelectorNarrowing(insightTypes: readonly string[]): Narrowing[] {
  return insightTypes.length === 0 ? [{ text: 'CloudTrail Insights is turned off (unusual API activity is no longer detected)', severity: 'HIGH' }] : [];
}

/** One line describing the selectors that were set, for the operator who restores them. */
export function describeSelectors(basic: readonly EventSelector[] | undefined, advanced: readonly AdvancedEventSelector[] | undefined): string {
  if (advanced) {
    return `advanced selectors: ${advanced.map((s) => `${s.name ?? 'unnamed'} [${s.fieldSelectors.map((f) => `${f.field}${f.equals ? `=${f.equals.join('|')}` : ''}${f.notEquals ? `!=${f.notEquals.join('|')}` : ''}`).join(', ')}]`).join('; ')}`;
  }
  return `event selectors: ${(basic ?? []).map((s) => {
    const data = (s.dataResources ?? []).map((d) => d.type ?? '?');
    const excluded = s.excludeManagementEventSources ?? [];
    return `management ${s.includeManagementEvents === false ? 'off' : 'on'}, ${s.readWriteType ?? 'All'}${excluded.length ? `, excluding ${excluded.join('|')}` : ''}${data.length ? `, data ${data.join('|')}` : ''}`;
  }).join('; ') || 'none'}`;
}
