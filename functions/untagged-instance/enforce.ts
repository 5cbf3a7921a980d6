import { createHash } from 'node:crypto';
import type { EC2Client } from '@aws-sdk/client-ec2';
import * as v from 'valibot';
import { permissionsOf, planOf } from '../../shared/actions/action.js';
import { stopInstances } from '../../shared/actions/ec2-stop-instances.js';
import { ec2Client } from '../../shared/aws/ec2.js';
import { isInstanceId, regionArg } from '../../shared/aws/names.js';
import type { Config } from '../../shared/config.js';
import { describeInstances, type InstanceNow } from '../../shared/ec2/instance-reads.js';
import { caseVariants, missingKeys } from '../../shared/ec2/tags.js';
import { ParseError } from '../../shared/errors.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import type { Finding } from '../../shared/runner/origin.js';
import { alert, compliant, notApplicable, violation, type Decision, type Message, type ResourceRef, type Rule } from '../../shared/rule.js';
import { awsCommand, checked, noCommand, placeholder, refusedIn } from '../../shared/shell.js';
import { EnforceInput, scheduleNameFor } from './enforcement.js';
import { managerOf } from './managed.js';

// The untagged-instance enforcement check: EventBridge Scheduler invokes it once, a grace period after a
// launch was tagged, with an EnforceInput. It stops (never terminates) an instance that is still running
// without a required tag, unless a service would replace it (then it alerts). It is not in functions/rules.ts:
// no EventBridge pattern routes to it.

/** The check as the schedule asked for it. */
export interface EnforceFacts {
  readonly resources: readonly ResourceRef[];
  readonly instanceId: string;
  readonly requiredTags: readonly string[];
  readonly sourceEventId: string;
  readonly scheduleName: string;
}

/** The instance as read now; undefined when it no longer exists. */
export interface EnforceState {
  readonly instance: InstanceNow | undefined;
}

type Clients = { readonly ec2: EC2Client };
type Settings = Config['rules']['untagged-instance'];

/** The one write the check makes. */
const ACTIONS = [stopInstances];

const STOPPABLE = new Set(['pending', 'running']);
// Only to name the record of an input that does not parse: its account and region, if it names them.
const Hints = v.looseObject({ region: v.optional(v.string()), account: v.optional(v.string()) });

/**
 * Validates the Scheduler input (once, here) into the check's finding: named by its schedule (so a redelivery is a
 * duplicate), in the launch's account and Region. Throws ParseError naming the field.
 */
export function readEnforceInput(input: unknown): Finding & { readonly facts: EnforceFacts } {
  const checked = parseWith(EnforceInput, input, 'input', null);
  const scheduleName = scheduleNameFor(checked.instanceId, checked.sourceEventId);
  return {
    trigger: 'schedule',
    id: scheduleName,
    account: checked.account,
    region: checked.region,
    facts: {
      resources: [{ type: 'AWS::EC2::Instance', id: checked.instanceId }],
      instanceId: checked.instanceId,
      requiredTags: checked.requiredTags,
      sourceEventId: checked.sourceEventId,
      scheduleName,
    },
  };
}

/** The finding an input that does not parse is recorded as; its id hashes the input, so one bad input is one record. */
export function unreadableEnforceInput(input: unknown): Finding {
  const hints = v.safeParse(Hints, input);
  const { region, account } = hints.success ? hints.output : {};
  const id = `unreadable-enforce-input-${createHash('sha256')
    .update(JSON.stringify(input) ?? String(input))
    .digest('hex')
    .slice(0, 12)}`;
  return { trigger: 'schedule', id, account, region: region ?? 'unknown', facts: { resources: [] } };
}

function decide(facts: EnforceFacts, state: EnforceState | undefined, settings: Settings): Decision {
  const id = facts.instanceId;
  // Read at run time, not when scheduled: turning enforcement off also cancels the checks already scheduled.
  if (!settings.enforcement.enabled) return notApplicable(`enforcement is off in configuration: ${id} is not stopped (schedule ${facts.scheduleName})`);
  if (!state) return notApplicable(`offline: enforcement decides only on ${id} as read now, never on the schedule input alone`);
  const now = state.instance;
  if (!now) return notApplicable(`${id} not found (terminated and purged): nothing to stop`);
  // Only keys required both when the owner was told and now: a key dropped from the policy stops nobody.
  const required = facts.requiredTags.filter((key) => settings.requiredTags.includes(key));
  if (required.length === 0)
    return notApplicable(`none of ${facts.requiredTags.join(', ')} is still required (now ${settings.requiredTags.join(', ')}): ${id} is not stopped`);
  const missing = missingKeys(required, now.tags);
  if (missing.length === 0) return compliant(`${id} now carries ${required.join(', ')}: not stopped`, facts.resources);
  if (!STOPPABLE.has(now.state)) return notApplicable(`${id} still lacks ${missing.join(', ')} but is ${now.state}: nothing to stop`);
  const variants = caseVariants(missing, now.tags);
  const lacks = `${id} still lacks ${missing.join(', ')}${variants.length ? ` (has ${variants.join(', ')}: keys are case-sensitive)` : ''} after the grace period and is ${now.state} (launch event ${facts.sourceEventId})`;
  // A stopped member is terminated and replaced by its manager: a stop here would be a termination.
  const manager = managerOf(now.tags);
  if (manager) {
    return alert(
      `${lacks}; NOT stopped: it is managed by ${manager.service} ${manager.ref.id} (tag ${manager.tag}), which would terminate and replace a stopped instance; ${manager.fix}`,
      'MEDIUM',
      [...facts.resources, manager.ref],
    );
  }
  return violation(lacks, 'HIGH', facts.resources, [
    planOf(stopInstances, { type: 'AWS::EC2::Instance', id }, { InstanceIds: [id] }, { State: now.state, Tags: now.tags }),
  ]);
}

const instanceIn = async (ec2: EC2Client, id: string) => (await describeInstances(ec2, [id])).get(id);

export const untaggedInstanceEnforce = {
  id: 'untagged-instance',
  // Never deployed, and matches no event: Scheduler invokes the function directly with its input (a finding).
  pattern: { source: ['trailguard.none'] } as EventPattern,
  permissions: {
    'EC2.DescribeInstances': 'ec2:DescribeInstances',
    ...permissionsOf(ACTIONS),
  },
  actions: ACTIONS,
  settings: (config: Config): Settings => config.rules['untagged-instance'],
  clients: (options) => ({ ec2: ec2Client(options) }),
  parse({ event }): EnforceFacts {
    throw new ParseError('detail', 'the enforcement check starts from its schedule input (readEnforceInput), never from a CloudTrail event', event.id);
  },
  inspect: async (facts, { ec2 }) => ({ instance: await instanceIn(ec2, facts.instanceId) }),
  decide,
  message(record): Message {
    const id = record.resources[0]?.id ?? 'unknown';
    // Short: the notifier adds severity and account/region, and subjects are cut at 100 characters.
    // The manager, when the decision named one, is the record's second resource (see decide).
    const manager = record.outcome === 'alerted' ? record.resources[1] : undefined;
    const title =
      record.outcome === 'remediated'
        ? `Stopped untagged EC2 instance ${id}`
        : record.outcome === 'would-remediate'
          ? `Would stop untagged EC2 instance ${id}`
          : record.outcome === 'failed'
            ? `FAILED to enforce tags on EC2 instance ${id}`
            : manager
              ? `Untagged EC2 instance ${id} not stopped`
              : `Tag enforcement on EC2 instance ${id}: ${record.outcome}`;
    const why = 'untagged-instance enforcement stops (never terminates) instances still missing a required tag after the grace period; disks and data are kept';
    const where = { region: regionArg(record.region), instance: checked(id, 'instance id', isInstanceId) };
    const refused = refusedIn(where);
    const tagIt = refused
      ? noCommand(refused)
      : awsCommand('ec2', 'create-tags', { region: where.region, resources: [where.instance], tags: placeholder('Key=<key>,Value=<value>') });
    if (manager) {
      return {
        title,
        lines: [
          why,
          `${id} was not stopped: ${manager.type} ${manager.id} would terminate and replace it; tag it where it is launched from`,
          `To tag this instance now: ${tagIt}`,
        ],
      };
    }
    // Guidance, not a reversal: the notifier adds the start-instances command (by hand) from the action type.
    const restart = record.outcome === 'remediated' || record.outcome === 'would-remediate' ? [`To start it again, first add the missing tags: ${tagIt}`] : [];
    return { title, lines: [why, ...restart] };
  },
} satisfies Rule<EnforceFacts, EnforceState, Clients, Settings>;
