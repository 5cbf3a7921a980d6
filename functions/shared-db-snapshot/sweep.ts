import { paginateDescribeDBClusterSnapshots, paginateDescribeDBSnapshots, type RDSClient } from '@aws-sdk/client-rds';
import { isDbSnapshotName, restoreValues, type DbSnapshotKind } from '../../shared/actions/rds-modify-db-snapshot-attribute.js';
import { awsCall } from '../../shared/aws/errors.js';
import { organizationAccounts } from '../../shared/aws/organizations.js';
import { rdsClient } from '../../shared/aws/rds.js';
import { judge, type OrgAccounts, type OutsidePolicy } from '../../shared/outside.js';
import { classifiedPages, type Sweep, type SweepScope, type SweepStep } from '../../shared/runner/sweep.js';
import { sharedDbSnapshot, type DbShareFacts } from './rule.js';

// DescribeDBSnapshots and DescribeDBClusterSnapshots return at most 100 per page.
const PAGE_SIZE = 100;

type Clients = { readonly rds: RDSClient; readonly orgAccounts: () => Promise<OrgAccounts> };

/** The facts of a snapshot whose `restore` attribute names these values now, as if one call had just added them. */
export function sharedSnapshotFacts(kind: DbSnapshotKind, id: string, values: readonly string[]): DbShareFacts {
  const added = [...new Set(values.map((value) => (value.toLowerCase() === 'all' ? 'all' : value)))];
  return { kind, resources: [{ type: kind === 'instance' ? 'AWS::RDS::DBSnapshot' : 'AWS::RDS::DBClusterSnapshot', id }], added };
}

/**
 * Candidates: this Region's manual DB and DB cluster snapshots (only a manual snapshot can be shared) whose `restore`
 * attribute names anyone not inside: public, an outside account, or one it cannot judge. A snapshot shared only
 * with the organisation's own accounts is no finding (backups copied across accounts are routine), so the log holds
 * no hourly record of it. RDS has no list filter for shared snapshots: each is read (manual snapshots are a quota of
 * 100 per Region by default, raised in hundreds, so a scan is a few hundred reads at most).
 */
async function* scan({ rds, orgAccounts }: Clients, settings: { readonly outside: OutsidePolicy }, scope: SweepScope): AsyncGenerator<SweepStep<DbShareFacts>> {
  const org: OrgAccounts = settings.outside.organization ? await orgAccounts() : { kind: 'single-account' };
  const view = { policy: settings.outside, ownAccount: scope.account, org };
  const notInside = (value: string) => judge(value.toLowerCase() === 'all' ? { kind: 'public' } : { kind: 'account', id: value }, view).outside !== false;
  for (const kind of ['instance', 'cluster'] as const) {
    const api = kind === 'instance' ? 'RDS.DescribeDBSnapshots' : 'RDS.DescribeDBClusterSnapshots';
    for await (const page of classifiedPages(api, scope.region, manualSnapshotPages(rds, kind))) {
      yield {
        kind: 'page',
        scanned: page.ids.length,
        next: page.marker ? `${api} marker ${page.marker}` : kind === 'instance' ? 'RDS.DescribeDBClusterSnapshots' : 'done',
      };
      for (const id of page.ids) {
        if (id === undefined || !isDbSnapshotName(id)) continue;
        const values = await awsCall(kind === 'instance' ? 'RDS.DescribeDBSnapshotAttributes' : 'RDS.DescribeDBClusterSnapshotAttributes', id, () =>
          restoreValues(rds, kind, id),
        );
        if (values.some(notInside)) yield { kind: 'finding', resource: id, facts: sharedSnapshotFacts(kind, id, values) };
      }
    }
  }
}

/** The Region's manual snapshots of one kind, a page of identifiers at a time. */
async function* manualSnapshotPages(
  rds: RDSClient,
  kind: DbSnapshotKind,
): AsyncGenerator<{ readonly ids: readonly (string | undefined)[]; readonly marker?: string }> {
  const input = { SnapshotType: 'manual', MaxRecords: PAGE_SIZE };
  if (kind === 'instance')
    for await (const page of paginateDescribeDBSnapshots({ client: rds, pageSize: PAGE_SIZE }, input))
      yield { ids: (page.DBSnapshots ?? []).map((s) => s.DBSnapshotIdentifier), marker: page.Marker };
  else
    for await (const page of paginateDescribeDBClusterSnapshots({ client: rds, pageSize: PAGE_SIZE }, input))
      yield { ids: (page.DBClusterSnapshots ?? []).map((s) => s.DBClusterSnapshotIdentifier), marker: page.Marker };
}

/** The shared-db-snapshot sweep: this Region's manual DB (cluster) snapshots shared outside, unshared through the rule. */
export const sharedDbSnapshotSweep = {
  rule: sharedDbSnapshot,
  permissions: { 'RDS.DescribeDBSnapshots': 'rds:DescribeDBSnapshots', 'RDS.DescribeDBClusterSnapshots': 'rds:DescribeDBClusterSnapshots' },
  clients: (options) => ({
    rds: rdsClient({ ...options, readOnly: true }),
    orgAccounts: organizationAccounts({ region: options.region, endpoint: options.endpoint, readOnly: true }),
  }),
  scan,
} satisfies Sweep<typeof sharedDbSnapshot, DbShareFacts, Clients>;
