import { paginateDescribeImages, paginateDescribeSnapshots, type EC2Client } from '@aws-sdk/client-ec2';
import { ec2Client } from '../../shared/aws/ec2.js';
import { classifiedPages, type Sweep, type SweepScope, type SweepStep } from '../../shared/runner/sweep.js';
import { sharedImageSnapshot, type ShareFacts } from './rule.js';

// DescribeSnapshots and DescribeImages return at most 1,000 per page.
const PAGE_SIZE = 1000;
const SNAPSHOT_ID = /^snap-[0-9a-f]{8,17}$/;
const IMAGE_ID = /^ami-[0-9a-f]{8,17}$/;

type Clients = { readonly ec2: EC2Client };

/** The facts of a snapshot or image that is public now, as if the call that made it public had just been logged. */
export function publicShareFacts(kind: ShareFacts['kind'], id: string): ShareFacts {
  return { kind, resources: [{ type: kind === 'snapshot' ? 'AWS::EC2::Snapshot' : 'AWS::EC2::Image', id }], added: [{ kind: 'public' }] };
}

/**
 * Candidates: this account's snapshots and images of the Region that are public now (the list calls' own filters:
 * restorable by / executable by `all`), so a scan costs a few pages however many an account holds. A share with a
 * named outside account has no list filter: finding one would read every snapshot's attribute (an estate of
 * backups holds tens of thousands), so those are the event path's; the rule removes only `all` here.
 */
async function* scan({ ec2 }: Clients, _settings: unknown, scope: SweepScope): AsyncGenerator<SweepStep<ShareFacts>> {
  const snapshots = paginateDescribeSnapshots(
    { client: ec2, pageSize: PAGE_SIZE },
    { OwnerIds: ['self'], RestorableByUserIds: ['all'], MaxResults: PAGE_SIZE },
  );
  for await (const page of classifiedPages('EC2.DescribeSnapshots', scope.region, snapshots)) {
    const found = (page.Snapshots ?? []).flatMap((s) => (s.SnapshotId && SNAPSHOT_ID.test(s.SnapshotId) ? [s.SnapshotId] : []));
    yield { kind: 'page', scanned: page.Snapshots?.length ?? 0, next: page.NextToken ? `DescribeSnapshots page token ${page.NextToken}` : 'DescribeImages' };
    for (const id of found) yield { kind: 'finding', resource: id, facts: publicShareFacts('snapshot', id) };
  }
  const images = paginateDescribeImages({ client: ec2, pageSize: PAGE_SIZE }, { Owners: ['self'], ExecutableUsers: ['all'], MaxResults: PAGE_SIZE });
  for await (const page of classifiedPages('EC2.DescribeImages', scope.region, images)) {
    // `ExecutableUsers: all` is the launch permission; `Public` says the same, and both must agree before a finding.
    const found = (page.Images ?? []).flatMap((i) => (i.ImageId && IMAGE_ID.test(i.ImageId) && i.Public !== false ? [i.ImageId] : []));
    yield { kind: 'page', scanned: page.Images?.length ?? 0, next: page.NextToken ? `DescribeImages page token ${page.NextToken}` : 'done' };
    for (const id of found) yield { kind: 'finding', resource: id, facts: publicShareFacts('image', id) };
  }
}

/** The shared-image-snapshot sweep: this Region's public snapshots and images, made private through the rule. */
export const sharedImageSnapshotSweep = {
  rule: sharedImageSnapshot,
  permissions: { 'EC2.DescribeSnapshots': 'ec2:DescribeSnapshots', 'EC2.DescribeImages': 'ec2:DescribeImages' },
  clients: (options) => ({ ec2: ec2Client({ ...options, readOnly: true }) }),
  scan,
} satisfies Sweep<typeof sharedImageSnapshot, ShareFacts, Clients>;
