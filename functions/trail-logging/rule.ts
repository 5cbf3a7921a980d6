import { GetEventSelectorsCommand, GetTrailCommand, GetTrailStatusCommand, type CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import * as v from 'valibot';
import { awsCall } from '../../shared/aws/errors.js';
import { cloudTrailClient } from '../../shared/aws/cloudtrail.js';
import {
  advancedSelectorNarrowing,
  describeSelectors,
  eventSelectorNarrowing,
  insightSelectorNarrowing,
  restorePlan,
  SETTINGS,
  TRAIL_TYPE,
  trailRefFrom,
  updateShapeOf,
  weakeningsInRequest,
  worstOf,
  type Narrowing,
  type TrailRef,
  type TrailSettings,
  type UpdateShape,
  type WeakenedSetting,
} from '../../shared/cloudtrail/trail.js';
import type { Config } from '../../shared/config.js';
import { AwsCallError, ParseError } from '../../shared/errors.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseArn } from '../../shared/events/normalize.js';
import { parseWith } from '../../shared/events/schema.js';
import { TRAIL_GONE_AFTER_CHANGE, trailMessage } from '../../shared/cloudtrail/message.js';
import { failedAttempt, InsightRequest, nameFieldOf, SelectorRequest, TrailResponse, UpdateRequest } from '../../shared/cloudtrail/requests.js';
import { settingInputs } from '../../shared/cloudtrail/trail-actions.js';
import { permissionsOf, planOf } from '../../shared/actions/action.js';
import { startLogging } from '../../shared/actions/cloudtrail-start-logging.js';
import { updateTrail } from '../../shared/actions/cloudtrail-update-trail.js';
import {
  narrowingOfSelectors,
  putEventSelectors,
  selectorsOf,
  selectorsOfRequest,
  withAllManagementEvents,
  type TrailSelectors,
} from '../../shared/actions/cloudtrail-put-event-selectors.js';
import {
  alert,
  compliant,
  notApplicable,
  violation,
  whereOf,
  type Decision,
  type EventContext,
  type Message,
  type ResourceRef,
  type Rule,
} from '../../shared/rule.js';
import pattern from './pattern.json' with { type: 'json' };

/** What the event says about which trail, and what the call did to it. */
export type TrailFacts =
  | (TrailCommon &
      (
        | { readonly kind: 'stopped' | 'deleted' }
        | { readonly kind: 'updated'; readonly weakened: readonly WeakenedSetting[]; readonly shape: UpdateShape }
        | {
            readonly kind: 'selectors';
            readonly narrowing: readonly Narrowing[];
            readonly selectors: string;
            /** PutEventSelectors: the whole new set, as the SDK takes it (undefined for Insights, or a set not read here). */
            readonly set?: TrailSelectors;
          }
      ))
  | { readonly kind: 'not-a-trail'; readonly resources: readonly []; readonly reason: string };

interface TrailCommon {
  readonly trail: TrailRef;
  /** The event's account: a trail ARN of another account is an organisation trail this account cannot change. */
  readonly account: string | undefined;
  readonly eventRegion: string;
  readonly resources: readonly [ResourceRef];
}

/**
 * The trail as read now (dry-run and live): `found` with its settings, or `gone` when CloudTrail no longer
 * knows it; null when nothing was read (decided from the request, or another account's trail).
 */
export type TrailState =
  | { readonly kind: 'found'; readonly settings: TrailSettings; readonly isLogging?: boolean }
  /** The selectors now (GetEventSelectors), when a narrowing is to be restored; undefined when in a form not read here. */
  | { readonly kind: 'selectors'; readonly selectors: TrailSelectors | undefined }
  | { readonly kind: 'gone'; readonly api: string; readonly code: string }
  | null;

type Clients = { readonly cloudTrailIn: (region: string) => CloudTrailClient };
type Settings = Config['rules']['trail-logging'];

/** The writes this rule makes, each in the trail's home Region (the step's). */
const ACTIONS = [startLogging, updateTrail, putEventSelectors];

function trailOf(request: Record<string, unknown>, field: string, response: v.InferOutput<typeof TrailResponse>, eventId: string): TrailRef {
  const raw = request[field];
  const ref = typeof raw === 'string' ? trailRefFrom(raw) : undefined;
  if (!ref) {
    const got = typeof raw === 'string' ? `"${raw.slice(0, 140)}"` : typeof raw;
    throw new ParseError(
      `detail.requestParameters.${field}`,
      `expected a trail name (3-128 letters, digits, '.', '_', '-', starting and ending with a letter or digit, not an IP address) or a trail ARN, got ${got}`,
      eventId,
    );
  }
  // A name in the request, the ARN (home Region, owner) in the response of UpdateTrail and PutEventSelectors.
  const answered = response?.trailARN ? trailRefFrom(response.trailARN) : undefined;
  return !ref.arn && answered?.arn && answered.name === ref.name ? answered : ref;
}

function parse({ record, event }: EventContext): TrailFacts {
  const request = parseWith(v.record(v.string(), v.unknown()), record.requestParameters, 'detail.requestParameters', event.id);
  if (record.eventName === 'PutInsightSelectors' && request.trailName === undefined && typeof request.eventDataStore === 'string') {
    return { kind: 'not-a-trail', resources: [], reason: 'Insights selectors changed on an event data store, not a trail' };
  }
  const response = parseWith(TrailResponse, record.responseElements, 'detail.responseElements', event.id);
  const trail = trailOf(request, nameFieldOf(record.eventName), response, event.id);
  const eventRegion = record.awsRegion || event.region;
  const common: TrailCommon = {
    trail,
    account: event.account,
    eventRegion,
    resources: [{ type: TRAIL_TYPE, id: trail.arn ?? trail.name, name: trail.name, region: trail.region ?? eventRegion }],
  };
  switch (record.eventName) {
    case 'StopLogging':
      return { ...common, kind: 'stopped' };
    case 'DeleteTrail':
      return { ...common, kind: 'deleted' };
    case 'UpdateTrail': {
      const update = parseWith(UpdateRequest, request, 'detail.requestParameters', event.id);
      const shape = updateShapeOf(request);
      return { ...common, kind: 'updated', shape, weakened: weakeningsInRequest(update, response?.kmsKeyId, shape) };
    }
    case 'PutEventSelectors': {
      const { eventSelectors: basic, advancedEventSelectors: advanced } = parseWith(SelectorRequest, request, 'detail.requestParameters', event.id);
      const narrowing = advanced ? advancedSelectorNarrowing(advanced) : eventSelectorNarrowing(basic ?? []);
      const set = selectorsOfRequest(request);
      return { ...common, kind: 'selectors', narrowing, selectors: describeSelectors(basic, advanced), ...(set ? { set } : {}) };
    }
    case 'PutInsightSelectors': {
      const types = parseWith(InsightRequest, request, 'detail.requestParameters', event.id).insightSelectors.map((s) => s.insightType);
      return { ...common, kind: 'selectors', narrowing: insightSelectorNarrowing(types), selectors: `Insights types: ${types.join(', ') || 'none'}` };
    }
    default:
      throw new ParseError('detail.eventName', `expected a trail-tampering call, got ${record.eventName}`, event.id);
  }
}

/** Where and how to reach the trail: the ARN, home Region and owner as read, else as the event gave them. */
function targetOf(facts: TrailCommon, state: TrailState) {
  const read = state?.kind === 'found' ? state.settings : undefined;
  const arn = read?.TrailARN ?? facts.trail.arn;
  return {
    id: arn ?? facts.trail.name,
    region: read?.HomeRegion ?? facts.trail.region ?? facts.eventRegion,
    owner: (arn ? parseArn(arn)?.account : undefined) ?? facts.account,
  };
}

const isOtherAccount = (owner: string | undefined, account: string | undefined) => owner !== undefined && account !== undefined && owner !== account;

async function inspect(facts: TrailFacts, clients: Clients, _context: unknown, settings: Settings): Promise<TrailState> {
  if (facts.kind === 'selectors') return restoresSelectors(facts, settings) ? readSelectors(facts, clients) : null;
  // Deletions are alerts from the request alone; another account's trail cannot be read or changed here; an update
  // that turns nothing off is compliant whatever the trail looks like now.
  if (facts.kind !== 'stopped' && facts.kind !== 'updated') return null;
  if (isOtherAccount(facts.trail.account, facts.account) || (facts.kind === 'updated' && facts.weakened.length === 0)) return null;
  try {
    return await readTrail(facts, clients);
  } catch (error) {
    // Where one answer *is* the finding: a trail stopped or weakened and now gone was most likely deleted right
    // after, and that DeleteTrail may never reach EventBridge if it was the account's only trail. The runner
    // would end `gone` as `ignored` (silent); decide() turns it into a CRITICAL alert. Anything else is rethrown.
    if (error instanceof AwsCallError && error.kind === 'gone') return { kind: 'gone', api: error.api, code: error.code };
    throw error;
  }
}

/** A narrowing of management events this rule restores: configured, this account's trail, and a PutEventSelectors (not Insights). */
function restoresSelectors(facts: TrailCommon & { readonly narrowing: readonly Narrowing[]; readonly set?: TrailSelectors }, settings: Settings): boolean {
  return settings.restore.managementEvents && facts.narrowing.length > 0 && facts.set !== undefined && !isOtherAccount(facts.trail.account, facts.account);
}

async function readSelectors(facts: TrailCommon, { cloudTrailIn }: Clients): Promise<TrailState> {
  // PutEventSelectors is taken in the trail's home Region only: the event's, unless the trail's ARN says otherwise.
  const { id, region } = targetOf(facts, null);
  const answer = await awsCall('CloudTrail.GetEventSelectors', id, () => cloudTrailIn(region).send(new GetEventSelectorsCommand({ TrailName: id })));
  return { kind: 'selectors', selectors: selectorsOf(answer) };
}

async function readTrail(facts: TrailCommon & { readonly kind: TrailFacts['kind'] }, { cloudTrailIn }: Clients): Promise<TrailState> {
  // A successful call by plain name was made in the trail's home Region (shadow trails refuse StopLogging and
  // UpdateTrail with InvalidHomeRegionException), so GetTrail there finds it; its HomeRegion and ARN are used anyway.
  const { id, region } = targetOf(facts, null);
  const answer = await awsCall('CloudTrail.GetTrail', id, () => cloudTrailIn(region).send(new GetTrailCommand({ Name: id })));
  if (!answer.Trail) throw new AwsCallError('CloudTrail.GetTrail', id, 'gone', 'TrailNotFoundException', 'GetTrail answered without a trail');
  const settings: TrailSettings = answer.Trail;
  const target = targetOf(facts, { kind: 'found', settings });
  if (facts.kind === 'updated' || isOtherAccount(target.owner, facts.account)) return { kind: 'found', settings };
  return { kind: 'found', settings, isLogging: await readIsLogging(cloudTrailIn(target.region), target.id) };
}

async function readIsLogging(client: CloudTrailClient, id: string): Promise<boolean> {
  const status = await awsCall('CloudTrail.GetTrailStatus', id, () => client.send(new GetTrailStatusCommand({ Name: id })));
  return status.IsLogging === true;
}

type TrailRead = Extract<NonNullable<TrailState>, { readonly kind: 'found' }>;

function decide(facts: TrailFacts, state: TrailState | undefined, settings: Settings): Decision {
  if (state?.kind === 'selectors' && facts.kind === 'selectors') return decideSelectors(facts, state);
  if (facts.kind === 'not-a-trail') return notApplicable(facts.reason);
  const target = targetOf(facts, state ?? null);
  const resource: ResourceRef = { ...facts.resources[0], id: target.id, region: target.region };
  const away = target.region !== facts.eventRegion ? ` (home Region ${target.region})` : '';
  const label = `trail ${facts.trail.name}${away}`;
  const orgTrail = isOtherAccount(target.owner, facts.account)
    ? `it is an organisation trail of account ${target.owner}: only that management account can change it (in ${target.region})`
    : undefined;
  if (state?.kind === 'gone') {
    const what = facts.kind === 'updated' ? `weakened (${facts.weakened.join(', ')} off)` : 'stopped';
    return alert(
      `${label} was ${what} and no longer exists: deleted? if it was this account's only trail, the account may be unrecorded, and its DeleteTrail may never reach EventBridge (${state.code} from ${state.api})`,
      'CRITICAL',
      [resource],
      TRAIL_GONE_AFTER_CHANGE,
    );
  }
  const read = state?.kind === 'found' ? state : undefined;
  switch (facts.kind) {
    case 'stopped': {
      const blind = 'until it logs again, no other trailguard rule can see this account';
      if (orgTrail) return alert(`${label} was stopped; ${orgTrail}; ${blind}`, 'CRITICAL', [resource], 'trail-stopped');
      if (read?.isLogging) return compliant(`${label} is logging again (GetTrailStatus IsLogging true)`, [resource]);
      const org = read?.settings.IsOrganizationTrail ? ' (the organisation trail; this is its management account)' : '';
      return violation(
        `${label}${org} was stopped: ${blind}`,
        'CRITICAL',
        [resource],
        [planOf(startLogging, resource, { Name: target.id }, read ? { IsLogging: false } : undefined)],
        'trail-stopped',
      );
    }
    case 'deleted':
      return alert(
        `${label} was deleted: it records nothing from now on and cannot be restored automatically (recreate it, then start logging)`,
        'CRITICAL',
        [resource],
        'trail-deleted',
      );
    case 'selectors': {
      if (facts.narrowing.length === 0) return compliant(`${label}: the selectors set keep management events recorded (${facts.selectors})`, [resource]);
      // Offline, configured to restore: the request is the trail's whole new set, so the plan is built from it.
      if (facts.set && state === undefined && restoresSelectors(facts, settings)) return restoreSelectorsDecision(facts, facts.set, resource, label);
      return alert(
        `${label}: ${facts.narrowing.map((n) => n.text).join('; ')}. Set: ${facts.selectors}`,
        worstOf(facts.narrowing.map((n) => n.severity)),
        [resource],
        'selectors-narrowed',
      );
    }
    case 'updated':
      return decideUpdate(facts, read, settings, { resource, label, orgTrail });
  }
}

/** Dry-run and live, configured to restore: decided from the selectors now (a person may have restored them since). */
function decideSelectors(
  facts: TrailCommon & { readonly narrowing: readonly Narrowing[]; readonly selectors: string },
  state: { readonly selectors: TrailSelectors | undefined },
): Decision {
  const target = targetOf(facts, null);
  const resource: ResourceRef = { ...facts.resources[0], id: target.id, region: target.region };
  const label = `trail ${facts.trail.name}${target.region !== facts.eventRegion ? ` (home Region ${target.region})` : ''}`;
  const why = `${facts.narrowing.map((n) => n.text).join('; ')}. Set: ${facts.selectors}`;
  if (!state.selectors)
    return alert(
      `${label}: ${why}; not restored: GetEventSelectors answered a form not read here`,
      worstOf(facts.narrowing.map((n) => n.severity)),
      [resource],
      'selectors-narrowed',
    );
  if (narrowingOfSelectors(state.selectors).length === 0)
    return compliant(`${label}: every management event is recorded again (GetEventSelectors)`, [resource]);
  return restoreSelectorsDecision(facts, state.selectors, resource, label);
}

function restoreSelectorsDecision(
  facts: TrailCommon & { readonly narrowing: readonly Narrowing[]; readonly selectors: string },
  current: TrailSelectors,
  resource: ResourceRef,
  label: string,
): Decision {
  const params = { TrailName: resource.id, ...withAllManagementEvents(current) };
  return violation(
    `${label}: ${facts.narrowing.map((n) => n.text).join('; ')}. Set: ${facts.selectors}; restoring: a selector of all management events is added, the others kept`,
    worstOf(facts.narrowing.map((n) => n.severity)),
    [resource],
    [planOf(putEventSelectors, resource, params, current)],
    'selectors-narrowed',
  );
}

function decideUpdate(
  facts: TrailCommon & { readonly weakened: readonly WeakenedSetting[]; readonly shape: UpdateShape },
  read: TrailRead | undefined,
  settings: Settings,
  { resource, label, orgTrail }: { resource: ResourceRef; label: string; orgTrail: string | undefined },
): Decision {
  // Offline has only the request; dry-run and live keep what is still off now (a later update may have fixed it).
  const off = read ? facts.weakened.filter((s) => SETTINGS[s].isOff(read.settings)) : facts.weakened;
  if (off.length === 0) {
    return compliant(
      read && facts.weakened.length > 0
        ? `${label}: already restored (${facts.weakened.join(', ')} on again)`
        : `${label}: the update turns off none of log file validation, multi-Region, global service events or the KMS key`,
      [resource],
    );
  }
  const severity = worstOf(off.map((s) => SETTINGS[s].severity));
  const found = `${label}: ${off.map((s) => SETTINGS[s].label).join('; ')} after this UpdateTrail`;
  const globalOff = read ? SETTINGS.globalServiceEvents.isOff(read.settings) : facts.weakened.includes('globalServiceEvents');
  const plan = orgTrail ? undefined : restorePlan(off, facts.shape, settings.restore, globalOff);
  const notRestored = !plan ? `; not restored automatically: ${orgTrail}` : plan.kept.length > 0 ? `; not restored automatically: ${plan.kept.join(', ')}` : '';
  if (!plan || plan.restorable.length === 0) return alert(`${found}${notRestored}`, severity, [resource], 'trail-weakened');
  const restores = plan.restoring.flatMap((s) => SETTINGS[s].restore ?? []);
  const params = { Name: resource.id, ...settingInputs(restores, () => true) };
  const previous = read ? settingInputs(restores, (r) => read.settings[r.read] === true) : undefined;
  const also = plan.withGlobal
    ? ` with globalServiceEvents: CloudTrail refuses a multi-Region trail without global service events (InvalidParameterCombinationException)${settings.restore.globalServiceEvents ? '' : ', so they are turned on although restore.globalServiceEvents is off'}`
    : '';
  return violation(
    `${found}; restoring ${plan.restorable.join(', ')}${also}${notRestored}`,
    severity,
    [resource],
    [planOf(updateTrail, resource, params, previous)],
    'trail-weakened',
  );
}

export const trailLogging = {
  id: 'trail-logging',
  // A weakened trail names the three settings' controls: which one was turned off is in the reason.
  controls: {
    byFinding: { 'trail-weakened': ['CloudTrail.1', 'CloudTrail.2', 'CloudTrail.4', 'CloudWatch.5'] },
    other: ['CloudTrail.1', 'CloudWatch.5'],
  },
  pattern: pattern as EventPattern,
  // The flight recorder: twenty failed StopLogging calls must not push the real weakening into a digest.
  neverDigested: true,
  permissions: {
    'CloudTrail.GetTrail': 'cloudtrail:GetTrail',
    'CloudTrail.GetTrailStatus': 'cloudtrail:GetTrailStatus',
    'CloudTrail.GetEventSelectors': 'cloudtrail:GetEventSelectors',
    ...permissionsOf(ACTIONS),
  },
  actions: ACTIONS,
  settings: (config: Config) => config.rules['trail-logging'],
  // A trail is acted on in its home Region, which may not be the event's; `readOnly` (dry-run) is kept for every Region.
  clients: (options) => ({ cloudTrailIn: (region: string) => cloudTrailClient({ ...options, region }) }),
  parse,
  // One trail per name in its owner account and home Region: an event names it by name (a call made there) or
  // by ARN (which names both), and both forms must take one lock, or two StopLogging events both restart it.
  lockKey(resource, context) {
    const arn = trailRefFrom(resource.id);
    return `${arn?.account ?? whereOf(context).account ?? 'unknown-account'}#${arn?.region ?? resource.region}#${arn?.name ?? resource.id}`;
  },
  inspect,
  decide,
  message: (record): Message => trailMessage(record),
  failedCall: (record, settings) => failedAttempt(record, settings),
} satisfies Rule<TrailFacts, TrailState, Clients, Settings>;
