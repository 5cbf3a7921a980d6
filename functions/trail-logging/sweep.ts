import { DescribeTrailsCommand, GetTrailStatusCommand, type CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { cloudTrailClient } from '../../shared/aws/cloudtrail.js';
import { awsCall } from '../../shared/aws/errors.js';
import { TRAIL_TYPE, trailRefFrom, type TrailRef } from '../../shared/cloudtrail/trail.js';
import type { Sweep, SweepScope, SweepStep } from '../../shared/runner/sweep.js';
import { startLogging } from '../../shared/actions/cloudtrail-start-logging.js';
import { updateTrail } from '../../shared/actions/cloudtrail-update-trail.js';
import { trailLogging, type TrailFacts } from './rule.js';

/**
 * The rule as the sweep runs it: a sweep finds stopped trails only, so its role holds no selector call (the rule
 * restores selectors only from a PutEventSelectors event).
 */
export const sweptTrailLogging = {
  ...trailLogging,
  permissions: {
    'CloudTrail.GetTrail': trailLogging.permissions['CloudTrail.GetTrail'],
    'CloudTrail.GetTrailStatus': trailLogging.permissions['CloudTrail.GetTrailStatus'],
    [startLogging.api]: startLogging.iam,
    [updateTrail.api]: updateTrail.iam,
  },
  actions: [startLogging, updateTrail],
} satisfies Omit<typeof trailLogging, 'permissions' | 'actions'> & {
  readonly permissions: Readonly<Record<string, string>>;
  readonly actions: readonly (typeof startLogging | typeof updateTrail)[];
};

type Clients = { readonly cloudTrail: CloudTrailClient };

/** The facts of a trail that is not logging, as if it had just been stopped: the rule restarts it, or alerts for another account's organisation trail. */
export function stoppedTrailFacts(trail: TrailRef & { readonly region: string }, scope: SweepScope): TrailFacts {
  return {
    kind: 'stopped',
    trail,
    account: scope.account,
    eventRegion: scope.region,
    resources: [{ type: TRAIL_TYPE, id: trail.arn ?? trail.name, name: trail.name, region: trail.region }],
  };
}

/**
 * Candidates: this account's trails whose home Region is this one (each Region's sweep covers its own, so a
 * multi-Region trail is reported once) and whose GetTrailStatus reads IsLogging false. An organisation trail
 * of another account is left out: its status is that account's to read (the role reads only this account's
 * trails) and only it can restart the trail, so the management account's own sweep covers it.
 * DescribeTrails is not paged: a Region holds a handful of trails.
 */
async function* scan({ cloudTrail }: Clients, _settings: unknown, scope: SweepScope): AsyncGenerator<SweepStep<TrailFacts>> {
  const { trailList = [] } = await awsCall('CloudTrail.DescribeTrails', scope.region, () =>
    cloudTrail.send(new DescribeTrailsCommand({ includeShadowTrails: true })),
  );
  const home = trailList.flatMap((trail) => {
    const ref = trail.TrailARN ? trailRefFrom(trail.TrailARN) : undefined;
    const ours = scope.account === undefined || ref?.account === scope.account;
    return ref?.arn && ours && ref.region === scope.region && trail.HomeRegion === scope.region ? [{ ...ref, region: ref.region }] : [];
  });
  yield { kind: 'page', scanned: home.length, next: 'GetTrailStatus of each home-Region trail' };
  for (const trail of home) {
    const status = await awsCall('CloudTrail.GetTrailStatus', trail.arn ?? trail.name, () => cloudTrail.send(new GetTrailStatusCommand({ Name: trail.arn })));
    if (status.IsLogging !== true) yield { kind: 'finding', resource: trail.arn ?? trail.name, facts: stoppedTrailFacts(trail, scope) };
  }
}

/** The trail-logging sweep: this Region's trails that are not logging. */
export const trailLoggingSweep = {
  rule: sweptTrailLogging,
  permissions: { 'CloudTrail.DescribeTrails': 'cloudtrail:DescribeTrails' },
  clients: (options) => ({ cloudTrail: cloudTrailClient({ ...options, readOnly: true }) }),
  scan,
} satisfies Sweep<typeof sweptTrailLogging, TrailFacts, Clients>;
