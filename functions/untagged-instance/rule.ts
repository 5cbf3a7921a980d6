import type { EC2Client } from '@aws-sdk/client-ec2';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import * as v from 'valibot';
import { permissionsOf } from '../../shared/actions/action.js';
import { createTags } from '../../shared/actions/ec2-create-tags.js';
import { createSchedule } from '../../shared/actions/scheduler-create-schedule.js';
import { ec2Client } from '../../shared/aws/ec2.js';
import { schedulerClient } from '../../shared/aws/scheduler.js';
import type { Config } from '../../shared/config.js';
import { describeInstances, describeTags, type InstanceNow } from '../../shared/ec2/instance-reads.js';
import { TagParams } from '../../shared/ec2/tag-actions.js';
import { caseVariants, creatorOf, missingKeys, tagMapFromEvent, tagsToAdd, type Creator, type TagMap } from '../../shared/ec2/tags.js';
import { AwsCallError, ParseError } from '../../shared/errors.js';
import { ec2Items, eventTimeMs } from '../../shared/events/normalize.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import { alert, compliant, notApplicable, violation, type Decision, type Message, type ResourceRef, type Rule } from '../../shared/rule.js';
import { INSTANCE_ID, planEnforcement, type EnforcementTarget } from './enforcement.js';
import { groupTagWrites, type TagWrite } from './tag-writes.js';
import pattern from './pattern.json' with { type: 'json' };

/** What the event says: the launched instances, the tags they were launched with, who launched them. */
export interface LaunchFacts {
  readonly resources: readonly ResourceRef[];
  /** Per instance: request tag specifications (`resourceType: instance`) plus the response `tagSet`. */
  readonly launchTags: Readonly<Record<string, TagMap>>;
  readonly creator: Creator | undefined;
  /** The event time (ISO), for `trailguard:tagged-at` and the enforcement grace period: the decision stays pure. */
  readonly taggedAt: string;
  /** For enforcement schedules: the event id (names the schedule), the account and region of the launch. */
  readonly sourceEventId: string;
  readonly account: string | undefined;
  readonly region: string;
}

/** The instances as they are now (dry-run and live), by id; an id that is absent was not found. */
export interface LaunchState {
  readonly instances: ReadonlyMap<string, InstanceNow>;
  readonly volumeTags: ReadonlyMap<string, TagMap>;
  /** When the instances were read (ms): an enforcement check is never scheduled in the past. */
  readonly checkedAt: number;
}

// The schedule lives in its target function's region (which may differ from the launch's) and account.
type Clients = { readonly ec2: EC2Client; readonly scheduler: (region: string) => SchedulerClient };
type Settings = Config['rules']['untagged-instance'] & { readonly enforcementTarget: EnforcementTarget; readonly exemptions: Config['exemptions'] };

/** The writes this rule makes: the tags, and (enforcement on) one stop check per instance. */
const ACTIONS = [createTags, createSchedule];

// INSTANCE_ID: anything that is not an instance id never reaches CreateTags or a schedule name.
const Response = v.looseObject({
  instancesSet: v.looseObject({
    items: v.pipe(
      v.array(v.looseObject({ instanceId: v.pipe(v.string(), v.regex(INSTANCE_ID, 'an EC2 instance id')), tagSet: v.optional(v.unknown()) })),
      v.minLength(1),
    ),
  }),
});
const GONE_STATES = new Set(['shutting-down', 'terminated']);
/**
 * DescribeInstances may not show an instance for a while after RunInstances (EC2 is eventually consistent),
 * while a terminated one stays visible for about an hour: an id missing this soon after its launch is retried.
 */
export const VISIBILITY_LAG_MINUTES = 15;

const instanceRef = (id: string): ResourceRef => ({ type: 'AWS::EC2::Instance', id });

function plan(resource: ResourceRef, present: TagMap, missing: readonly string[], facts: LaunchFacts, settings: Settings) {
  const { tags, unfillable } = tagsToAdd(missing, present, { owner: facts.creator?.owner, defaults: settings.defaultTagValues, taggedAt: facts.taggedAt });
  const write: TagWrite | undefined = tags.length === 0 ? undefined : { resource, present, tags };
  return { write, unfillable };
}

function decide(facts: LaunchFacts, state: LaunchState | undefined, settings: Settings): Decision {
  const required = settings.requiredTags;
  const writes: TagWrite[] = [];
  const [ok, skipped, notes, flagged]: [string[], string[], string[], ResourceRef[]] = [[], [], [], []];
  for (const resource of facts.resources) {
    const id = resource.id;
    // Offline has the event only: request tags plus the response `tagSet`, which is EC2's own account of
    // the tags the instance was created with (launch template and ASG tags included). Dry-run and live
    // read the instance, because tags can be added or removed after launch.
    const now = state?.instances.get(id);
    if (state && !now) {
      skipped.push(`${id} not found (terminated and purged)`);
      continue;
    }
    if (now && GONE_STATES.has(now.state)) {
      skipped.push(`${id} is ${now.state}`);
      continue;
    }
    const tags = now?.tags ?? facts.launchTags[id] ?? {};
    const missing = missingKeys(required, tags);
    if (missing.length === 0) {
      ok.push(id);
      continue;
    }
    flagged.push(resource);
    const variants = caseVariants(missing, tags);
    const { write, unfillable } = plan(resource, tags, missing, facts, settings);
    if (write) writes.push(write);
    notes.push(
      `${id} lacks ${missing.join(', ')}${variants.length ? ` (has ${variants.join(', ')}: keys are case-sensitive)` : ''}`
        + (unfillable.length ? `; no value known for ${unfillable.join(', ')}` : ''),
    );
    if (!write || !settings.tagVolumes || !now) continue;
    for (const volumeId of now.volumeIds) {
      const volumeTags = state?.volumeTags.get(volumeId) ?? {};
      // The volume carries its instance as `name`, so an exemption for the instance covers its volumes too.
      const volume = plan({ type: 'AWS::EC2::Volume', id: volumeId, name: id }, volumeTags, missingKeys(required, volumeTags), facts, settings);
      if (volume.write) writes.push(volume.write);
    }
  }
  const actions = groupTagWrites(writes, settings.exemptions, state !== undefined);
  const by = facts.creator ? `launched by ${facts.creator.label}` : 'launched by an identity the record does not name';
  const service = facts.creator?.kind === 'service' ? '; a service launch: Owner is the service-linked caller' : '';
  const adjusted = facts.creator?.adjusted ? `; Owner value adjusted (${facts.creator.adjusted})` : '';
  const tail = [ok.length ? `already tagged: ${ok.join(', ')}` : '', skipped.length ? `skipped: ${skipped.join('; ')}` : ''].filter(Boolean).join('; ');
  const volumes = settings.tagVolumes && !state ? '; volumes are tagged in dry-run and live only (their ids are not in the event)' : '';
  if (flagged.length === 0) {
    if (ok.length === 0) return notApplicable(`no instance of this launch is left to tag (${tail})`);
    return compliant(`every instance carries ${required.join(', ')} (${by}); ${tail}`, facts.resources);
  }
  // Every flagged instance gets its check, tagged or not: an untaggable one is what enforcement is for.
  const launch = {
    instanceIds: flagged.map((r) => r.id),
    launchedAt: facts.taggedAt,
    sourceEventId: facts.sourceEventId,
    account: facts.account,
    region: facts.region,
  };
  const enforcement = planEnforcement(launch, settings, settings.enforcementTarget, state?.checkedAt);
  const reason = `${notes.join('; ')} (${by}${service}${adjusted})${tail ? `; ${tail}` : ''}${volumes}${actions.length === 0 ? ': nothing can be tagged automatically' : ''}${enforcement.note}`;
  const all = [...actions, ...enforcement.actions];
  if (all.length === 0) return alert(reason, 'MEDIUM', flagged);
  return violation(reason, actions.length === 0 || enforcement.unscheduled ? 'MEDIUM' : 'LOW', flagged, all);
}

function parse({ record, event }: Parameters<Rule<LaunchFacts, LaunchState, Clients, Settings>['parse']>[0]): LaunchFacts {
  const { instancesSet } = parseWith(Response, record.responseElements, 'detail.responseElements', event.id);
  const time = eventTimeMs(record.eventTime);
  if (time === undefined) throw new ParseError('detail.eventTime', `expected a time, got ${record.eventTime}`, event.id);
  // `tagSpecificationSet.items[].tags` is a plain list, unlike every other EC2 list (docs/cloudtrail-shapes.md#lists).
  const specs = ec2Items((record.requestParameters as { tagSpecificationSet?: unknown } | undefined)?.tagSpecificationSet);
  const requested = Object.assign(
    {},
    ...specs.map((spec) => {
      const s = (spec ?? {}) as { resourceType?: unknown; tags?: unknown };
      return s.resourceType === 'instance' ? tagMapFromEvent(s.tags) : {};
    }),
  ) as TagMap;
  const launchTags = Object.fromEntries(instancesSet.items.map((item) => [item.instanceId, { ...requested, ...tagMapFromEvent(item.tagSet) }]));
  return {
    resources: instancesSet.items.map((item) => instanceRef(item.instanceId)),
    launchTags,
    creator: creatorOf(record.actor),
    taggedAt: new Date(time).toISOString(),
    sourceEventId: record.eventId ?? event.id,
    account: event.account,
    region: record.awsRegion || event.region,
  };
}

async function inspect(facts: LaunchFacts, { ec2 }: Clients, _context: unknown, settings: Settings): Promise<LaunchState> {
  const ids = facts.resources.map((r) => r.id);
  const instances = await describeInstances(ec2, ids);
  const checkedAt = Date.now();
  const unseen = ids.filter((id) => !instances.has(id));
  const ageMs = checkedAt - Date.parse(facts.taggedAt);
  // Transient, not gone: the runner records it and Lambda/EventBridge redeliver the event (a time ahead of the
  // clock counts as young); an id missing later than that is decided on as purged.
  if (unseen.length > 0 && ageMs < VISIBILITY_LAG_MINUTES * 60_000) {
    throw new AwsCallError(
      'EC2.DescribeInstances',
      unseen.join(','),
      'transient',
      'InvalidInstanceID.NotFound',
      `not visible yet ${Math.round(ageMs / 1000)} s after the launch (EC2 is eventually consistent)`,
    );
  }
  // Volume tags matter only when volumes are tagged too (off by default): no read otherwise.
  const volumeIds = settings.tagVolumes ? [...instances.values()].filter((i) => !GONE_STATES.has(i.state)).flatMap((i) => i.volumeIds) : [];
  const volumeTags = volumeIds.length > 0 ? await describeTags(ec2, volumeIds) : new Map<string, TagMap>();
  return { instances, volumeTags, checkedAt };
}

export const untaggedInstance = {
  id: 'untagged-instance',
  pattern: pattern as EventPattern,
  permissions: {
    'EC2.DescribeInstances': 'ec2:DescribeInstances',
    'EC2.DescribeTags': 'ec2:DescribeTags',
    'Scheduler.GetSchedule': 'scheduler:GetSchedule',
    ...permissionsOf(ACTIONS),
  },
  actions: ACTIONS,
  ownAccountApis: ['Scheduler.CreateSchedule', 'Scheduler.GetSchedule'],
  settings: (config: Config): Settings => ({
    ...config.rules['untagged-instance'],
    enforcementTarget: { functionArn: config.enforceFunctionArn, roleArn: config.schedulerRoleArn },
    exemptions: config.exemptions,
  }),
  // Instances are tagged in the event's account (a member account's, in organisation mode); the schedules are
  // created in trailguard's own account, beside the enforcement function they invoke.
  clients: (options) => ({
    ec2: ec2Client(options),
    scheduler: (region) => schedulerClient({ region, endpoint: options.endpoint, readOnly: options.readOnly }),
  }),
  parse,
  inspect,
  decide,
  message(record): Message {
    // The planned CreateTags' resources, read through its params schema: a record that does not parse names none.
    const tagged = record.actions
      .filter((a) => a.api === createTags.api)
      .flatMap((a) => {
        const params = v.safeParse(TagParams, a.params);
        return params.success ? params.output.Resources : [];
      })
      .filter((id) => id.startsWith('i-'));
    const ids = tagged.length > 0 ? tagged : record.resources.map((r) => r.id);
    const what = ids.length === 1 ? `EC2 instance ${ids[0]}` : `${ids.length} EC2 instances`;
    // Untaggable instances with enforcement on get only their stop check: the title must not claim a tag.
    const [done, would, todo] =
      tagged.length === 0 && record.actions.length > 0
        ? ['Stop check scheduled for', 'Would schedule a stop check for', 'schedule a stop check for']
        : ['Tagged', 'Would tag', 'tag'];
    const title =
      record.outcome === 'remediated'
        ? `${done} ${what}`
        : record.outcome === 'would-remediate'
          ? `${would} ${what}`
          : record.outcome === 'failed'
            ? `FAILED to ${todo} ${what}`
            : `Untagged ${what}: ${record.outcome}`;
    // The commands that reverse the tags and cancel the checks are added by the notifier, from the action types
    // (as report and undo print them); the notifier lists the actions themselves.
    return { title, lines: [] };
  },
} satisfies Rule<LaunchFacts, LaunchState, Clients, Settings>;
