import { paginateDescribeInstances, type EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { createTags } from '../../shared/actions/ec2-create-tags.js';
import { ec2Client } from '../../shared/aws/ec2.js';
import type { Config } from '../../shared/config.js';
import { missingKeys, tagMapFrom } from '../../shared/ec2/tags.js';
import { classifiedPages, type Sweep, type SweepScope, type SweepStep } from '../../shared/runner/sweep.js';
import { untaggedInstance, type LaunchFacts } from './rule.js';

// DescribeInstances returns at most 1,000 instances per page.
const PAGE_SIZE = 1000;
/** Instances (re)started this recently are left to the event path, which knows their creator: no Owner-less alert races it. */
export const EVENT_PATH_GRACE_MINUTES = 15;

type Clients = { readonly ec2: EC2Client };

/**
 * The rule as the sweep runs it: the same parse-free inspect, decide, act and verify, with enforcement off.
 * A sweep cannot tell an instance whose launch event was missed from one that predates trailguard (LaunchTime
 * is the last start, not the creation), so scheduling stops from it could stop a long-running fleet; an
 * untagged instance found by the sweep is tagged where a value is known and reported, never stopped.
 */
export const sweptUntaggedInstance = {
  ...untaggedInstance,
  // Without enforcement the rule calls no Scheduler API: the sweep's role lacks them, a second guard.
  permissions: {
    'EC2.DescribeInstances': untaggedInstance.permissions['EC2.DescribeInstances'],
    'EC2.DescribeTags': untaggedInstance.permissions['EC2.DescribeTags'],
    [createTags.api]: createTags.iam,
  },
  // Its one write: a schedule the runner was asked to create would be no action type of the sweep's.
  actions: [createTags],
  settings: (config: Config) => {
    const settings = untaggedInstance.settings(config);
    return { ...settings, enforcement: { ...settings.enforcement, enabled: false } };
  },
} satisfies Omit<typeof untaggedInstance, 'permissions'> & { readonly permissions: Readonly<Record<string, string>> };

/**
 * The facts of an instance that lacks a required tag. The creator is unknown (no CloudTrail record), so the
 * rule writes no `Owner` (it never guesses one: `tagsToAdd` leaves it unfillable), adds only configured
 * defaults for other keys, and alerts when nothing can be tagged. The schedule id is stable per instance.
 */
export function instanceFacts(instanceId: string, tags: Readonly<Record<string, string>>, scope: SweepScope): LaunchFacts {
  return {
    resources: [{ type: 'AWS::EC2::Instance', id: instanceId }],
    launchTags: { [instanceId]: tags },
    creator: undefined,
    taggedAt: scope.window,
    sourceEventId: `sweep:untagged-instance:${instanceId}`,
    account: scope.account,
    region: scope.region,
  };
}

function isRecentlyStarted(instance: Instance, startedAt: number): boolean {
  const launched = instance.LaunchTime ? new Date(instance.LaunchTime).getTime() : Number.NaN;
  return launched > startedAt - EVENT_PATH_GRACE_MINUTES * 60_000;
}

/**
 * Candidates: pending, running and stopped instances of the region, paged, that lack a required tag (exact,
 * case-sensitive keys, as the rule compares them) and did not start within the last few minutes.
 */
async function* scan({ ec2 }: Clients, settings: { readonly requiredTags: readonly string[] }, scope: SweepScope): AsyncGenerator<SweepStep<LaunchFacts>> {
  const filters = [{ Name: 'instance-state-name', Values: ['pending', 'running', 'stopped'] }];
  const pages = paginateDescribeInstances({ client: ec2, pageSize: PAGE_SIZE }, { Filters: filters, MaxResults: PAGE_SIZE });
  for await (const page of classifiedPages('EC2.DescribeInstances', scope.region, pages)) {
    const instances = (page.Reservations ?? []).flatMap((r) => r.Instances ?? []);
    yield { kind: 'page', scanned: instances.length, next: page.NextToken ? `DescribeInstances page token ${page.NextToken}` : 'done' };
    for (const instance of instances) {
      const tags = tagMapFrom(instance.Tags);
      if (!instance.InstanceId || missingKeys(settings.requiredTags, tags).length === 0) continue;
      if (isRecentlyStarted(instance, scope.startedAt)) continue;
      yield { kind: 'finding', resource: instance.InstanceId, facts: instanceFacts(instance.InstanceId, tags, scope) };
    }
  }
}

/** The untagged-instance sweep: instances missing a required tag, tagged with known values or reported. */
export const untaggedInstanceSweep = {
  rule: sweptUntaggedInstance,
  permissions: {},
  clients: (options) => ({ ec2: ec2Client({ ...options, readOnly: true }) }),
  scan,
} satisfies Sweep<typeof sweptUntaggedInstance, LaunchFacts, Clients>;
