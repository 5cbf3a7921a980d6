/**
 * CloudTrail.PutEventSelectors: records every management event again on a trail whose selectors were narrowed
 * (trail-logging, `restore.managementEvents`), or puts the earlier selectors back (undo), in the trail's home Region.
 * The restore keeps the trail's own selectors as they are and adds one that selects all management events: a trail
 * logs an event that matches any of its selectors, and the data selectors keep their own read/write type (turning a
 * ReadOnly data selector to All would log, and bill, every data write too).
 */
import {
  GetEventSelectorsCommand,
  PutEventSelectorsCommand,
  type AdvancedEventSelector as SdkAdvanced,
  type EventSelector as SdkBasic,
} from '@aws-sdk/client-cloudtrail';
import * as v from 'valibot';
import { awsCall } from '../aws/errors.js';
import { advancedSelectorNarrowing, eventSelectorNarrowing, type AdvancedEventSelector, type EventSelector } from '../cloudtrail/trail.js';
import { SelectorRequest } from '../cloudtrail/requests.js';
import { TrailName, trailFlags } from '../cloudtrail/trail-actions.js';
import { awsCommand } from '../shell.js';
import { reverseStepOf, type ActionType, type Reversal, type SelfSignature } from './action.js';

// CloudTrail's own bounds: five basic selectors per trail, 500 conditions across advanced ones; names and values are short.
const Text = v.pipe(v.string(), v.maxLength(2048));
const Texts = v.pipe(v.array(Text), v.maxLength(500));
const Basic = v.strictObject({
  ReadWriteType: v.optional(v.picklist(['ReadOnly', 'WriteOnly', 'All'])),
  IncludeManagementEvents: v.optional(v.boolean()),
  DataResources: v.optional(v.pipe(v.array(v.strictObject({ Type: v.optional(Text), Values: v.optional(Texts) })), v.maxLength(250))),
  ExcludeManagementEventSources: v.optional(Texts),
});
const FieldSelector = v.strictObject({
  Field: Text,
  Equals: v.optional(Texts),
  StartsWith: v.optional(Texts),
  EndsWith: v.optional(Texts),
  NotEquals: v.optional(Texts),
  NotStartsWith: v.optional(Texts),
  NotEndsWith: v.optional(Texts),
});
const Advanced = v.strictObject({ Name: v.optional(Text), FieldSelectors: v.pipe(v.array(FieldSelector), v.minLength(1), v.maxLength(500)) });

const BasicSet = v.pipe(v.array(Basic), v.minLength(1), v.maxLength(5));
const AdvancedSet = v.pipe(v.array(Advanced), v.minLength(1), v.maxLength(500));

/** A trail's selectors, one kind or the other (CloudTrail refuses both on one trail). */
const Selectors = v.union([v.strictObject({ EventSelectors: BasicSet }), v.strictObject({ AdvancedEventSelectors: AdvancedSet })]);
export type TrailSelectors = v.InferOutput<typeof Selectors>;

/** The SDK input: the trail, by name or ARN, and its whole set of selectors. */
export const PutEventSelectorsParams = v.union([
  v.strictObject({ TrailName, EventSelectors: BasicSet }),
  v.strictObject({ TrailName, AdvancedEventSelectors: AdvancedSet }),
]);
export type PutEventSelectorsParams = v.InferOutput<typeof PutEventSelectorsParams>;

/** What the write replaced: the selectors GetEventSelectors read before. */
export const PutEventSelectorsPrevious = Selectors;
export type PutEventSelectorsPrevious = TrailSelectors;

/** The selector the restore adds. */
export const ALL_MANAGEMENT_BASIC = { ReadWriteType: 'All', IncludeManagementEvents: true, DataResources: [], ExcludeManagementEventSources: [] } as const;
export const ALL_MANAGEMENT_ADVANCED = {
  Name: 'All management events (restored by trailguard)',
  FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }],
};

/** Selectors as the SDK answers them, for the shapes the narrowing is judged on (the record's camelCase). */
export function selectorsOf(answer: { EventSelectors?: SdkBasic[]; AdvancedEventSelectors?: SdkAdvanced[] }): TrailSelectors | undefined {
  const parsed = v.safeParse(
    Selectors,
    answer.AdvancedEventSelectors?.length ? { AdvancedEventSelectors: answer.AdvancedEventSelectors } : { EventSelectors: answer.EventSelectors ?? [] },
  );
  return parsed.success ? parsed.output : undefined;
}

// The record's camelCase selectors (requestParameters of PutEventSelectors), each field renamed to the SDK's.
const RENAMED: Readonly<Record<string, string>> = {
  readWriteType: 'ReadWriteType',
  includeManagementEvents: 'IncludeManagementEvents',
  dataResources: 'DataResources',
  excludeManagementEventSources: 'ExcludeManagementEventSources',
  type: 'Type',
  values: 'Values',
  name: 'Name',
  fieldSelectors: 'FieldSelectors',
  field: 'Field',
  equals: 'Equals',
  startsWith: 'StartsWith',
  endsWith: 'EndsWith',
  notEquals: 'NotEquals',
  notStartsWith: 'NotStartsWith',
  notEndsWith: 'NotEndsWith',
};

function renamed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(renamed);
  if (typeof value !== 'object' || value === null) return value;
  // A field not known here has no SDK name: the strict schemas below then refuse the whole set.
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [RENAMED[key] ?? key, renamed(inner)]));
}

/**
 * The whole set a PutEventSelectors request put (the call replaces every selector), as the SDK takes it; undefined
 * when it holds a field or value not read here (then nothing is planned from it: the rule alerts).
 */
export function selectorsOfRequest(request: Readonly<Record<string, unknown>>): TrailSelectors | undefined {
  const set = request.advancedEventSelectors
    ? { AdvancedEventSelectors: renamed(request.advancedEventSelectors) }
    : request.eventSelectors
      ? { EventSelectors: renamed(request.eventSelectors) }
      : undefined;
  const parsed = set ? v.safeParse(Selectors, set) : undefined;
  return parsed?.success ? parsed.output : undefined;
}

/** What management events the selectors leave unrecorded, as trail-logging says it (empty: every one is recorded). */
export function narrowingOfSelectors(selectors: TrailSelectors): string[] {
  const narrowing =
    'AdvancedEventSelectors' in selectors
      ? advancedSelectorNarrowing(
          selectors.AdvancedEventSelectors.map(
            (s): AdvancedEventSelector => ({
              name: s.Name,
              fieldSelectors: s.FieldSelectors.map((f) => ({ field: f.Field, equals: f.Equals, notEquals: f.NotEquals })),
            }),
          ),
        )
      : eventSelectorNarrowing(
          selectors.EventSelectors.map(
            (s): EventSelector => ({
              readWriteType: s.ReadWriteType,
              includeManagementEvents: s.IncludeManagementEvents,
              excludeManagementEventSources: s.ExcludeManagementEventSources,
              dataResources: s.DataResources?.map((d) => ({ type: d.Type })),
            }),
          ),
        );
  return narrowing.map((n) => n.text);
}

/**
 * The selectors that record every management event again: the trail's own, plus one selecting all management events.
 * Five basic selectors leave no room for a sixth: then each selector records management events, All, nothing excluded.
 */
export function withAllManagementEvents(current: TrailSelectors): TrailSelectors {
  if ('AdvancedEventSelectors' in current) return { AdvancedEventSelectors: [...current.AdvancedEventSelectors, ALL_MANAGEMENT_ADVANCED] };
  if (current.EventSelectors.length < 5)
    return { EventSelectors: [...current.EventSelectors, { ...ALL_MANAGEMENT_BASIC, DataResources: [], ExcludeManagementEventSources: [] }] };
  return {
    EventSelectors: current.EventSelectors.map((s) => ({
      ...s,
      ReadWriteType: 'All' as const,
      IncludeManagementEvents: true,
      ExcludeManagementEventSources: [],
    })),
  };
}

/**
 * Selectors that record every management event: trailguard's PutEventSelectors only ever widens what is recorded.
 * One that narrows anything (an undo, or anyone else's) is not its own.
 */
export const putEventSelectorsSignature = {
  api: 'CloudTrail.PutEventSelectors',
  eventName: 'PutEventSelectors',
  isOwnWrite(request) {
    const parsed = v.safeParse(SelectorRequest, request);
    if (!parsed.success) return false;
    const { eventSelectors, advancedEventSelectors } = parsed.output;
    if (!eventSelectors && !advancedEventSelectors) return false;
    return (advancedEventSelectors ? advancedSelectorNarrowing(advancedEventSelectors) : eventSelectorNarrowing(eventSelectors ?? [])).length === 0;
  },
} as const satisfies SelfSignature;

const selectorsIn = (params: PutEventSelectorsParams): TrailSelectors =>
  'AdvancedEventSelectors' in params ? { AdvancedEventSelectors: params.AdvancedEventSelectors } : { EventSelectors: params.EventSelectors };

export const putEventSelectors = {
  // A literal, not `putEventSelectorsSignature.api`: a property read would keep this object (and its SDK commands) in
  // every bundle that imports only the signature.
  api: 'CloudTrail.PutEventSelectors',
  iam: 'cloudtrail:PutEventSelectors',
  clients: ['cloudTrailIn'],
  params: PutEventSelectorsParams,
  previous: PutEventSelectorsPrevious,
  retriggers: true,
  signature: putEventSelectorsSignature,
  // Selectors are changed in the trail's home Region only: the step's.
  async perform({ params, region }, { cloudTrailIn }) {
    await cloudTrailIn(region).send(new PutEventSelectorsCommand(params));
  },
  // The selectors read back leave out what the params leave out, no more: nothing after a restore, the earlier gaps after an undo.
  async verify({ params, region }, { cloudTrailIn }) {
    const answer = await awsCall('CloudTrail.GetEventSelectors', params.TrailName, () =>
      cloudTrailIn(region).send(new GetEventSelectorsCommand({ TrailName: params.TrailName })),
    );
    const read = selectorsOf(answer);
    if (!read) return { ok: false, detail: 'GetEventSelectors answered selectors in a form not read here' };
    const want = narrowingOfSelectors(selectorsIn(params));
    const got = narrowingOfSelectors(read);
    const same = want.length === got.length && want.every((text, i) => text === got[i]);
    if (!same) return { ok: false, detail: `GetEventSelectors reads: ${got.join('; ') || 'every management event recorded'}` };
    return { ok: true, detail: got.length === 0 ? 'GetEventSelectors reads every management event recorded' : `GetEventSelectors reads: ${got.join('; ')}` };
  },
  reverse(step): Reversal {
    const { params, previous, resource, region } = step;
    if (!previous) return { kind: 'none', why: 'the record has no earlier selectors (not read): nothing known to put back' };
    return {
      kind: 'steps',
      steps: [reverseStepOf(putEventSelectors, { ...resource, region }, { TrailName: params.TrailName, ...previous }, selectorsIn(params))],
    };
  },
  command(step) {
    const { params } = step;
    const flags = trailFlags({ ...step, params: { Name: params.TrailName } });
    return awsCommand('cloudtrail', 'put-event-selectors', {
      region: flags.region,
      trailName: flags.name,
      ...('AdvancedEventSelectors' in params
        ? { advancedEventSelectors: JSON.stringify(params.AdvancedEventSelectors) }
        : { eventSelectors: JSON.stringify(params.EventSelectors) }),
    });
  },
  describe: ({ params }) =>
    `put ${'AdvancedEventSelectors' in params ? `${params.AdvancedEventSelectors.length} advanced` : `${params.EventSelectors.length}`} event selectors on trail ${params.TrailName}`,
} as const satisfies ActionType<PutEventSelectorsParams, PutEventSelectorsPrevious, 'cloudTrailIn'>;
