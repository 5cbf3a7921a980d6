import { ListAccountsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import {
  DescribeDBClusterSnapshotAttributesCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotAttributesCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBClusterSnapshotAttributeCommand,
  ModifyDBSnapshotAttributeCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sharedDbSnapshotSweep } from '../../../functions/shared-db-snapshot/sweep.js';
import { SWEEPS } from '../../../functions/sweeps.js';
import { resetOrganizationsClients } from '../../../shared/aws/organizations.js';
import { runSweep, type SweepRun } from '../../../shared/runner/sweep.js';
import { capturingDeps, sampleConfig } from '../../helpers/samples.js';

const rds = mockClient(RDSClient);
const organizations = mockClient(OrganizationsClient);
const OWN = '111122223333';
const MEMBER = '222233334444';
const OUTSIDE = '444455556666';
const RUN: SweepRun = { region: 'eu-west-1', account: OWN, window: '2026-11-25T12:00:00.000Z', deadline: Number.POSITIVE_INFINITY };
const restore = (values: string[]) => ({ DBSnapshotAttributesResult: { DBSnapshotAttributes: [{ AttributeName: 'restore', AttributeValues: values }] } });
const clusterRestore = (values: string[]) => ({
  DBClusterSnapshotAttributesResult: { DBClusterSnapshotAttributes: [{ AttributeName: 'restore', AttributeValues: values }] },
});

beforeEach(() => {
  for (const mock of [rds, organizations]) {
    mock.reset();
    mock.rejects(new Error('unexpected AWS call')); // unmocked calls fail loudly
  }
  resetOrganizationsClients();
});
afterEach(() => {
  rds.reset();
  organizations.reset();
});

describe('shared-db-snapshot sweep', () => {
  it('is one of the sweeps the CLI and the member stack know', () => {
    expect(SWEEPS.includes(sharedDbSnapshotSweep)).toBe(true);
  });

  it("reads every manual snapshot's restore attribute, pages on, and unshares only the outside values", async () => {
    const markers: (string | undefined)[] = [];
    rds.on(DescribeDBSnapshotsCommand).callsFake((input: { Marker?: string; SnapshotType?: string }) => {
      markers.push(input.Marker);
      expect(input.SnapshotType).toBe('manual');
      return input.Marker === undefined
        ? { DBSnapshots: [{ DBSnapshotIdentifier: 'example-private' }, { DBSnapshotIdentifier: 'example-public' }], Marker: 'page-2' }
        : { DBSnapshots: [{ DBSnapshotIdentifier: 'example-partner' }] };
    });
    rds.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: 'example-cluster-public' }] });
    rds.on(DescribeDBSnapshotAttributesCommand, { DBSnapshotIdentifier: 'example-private' }).resolves(restore([]));
    rds
      .on(DescribeDBSnapshotAttributesCommand, { DBSnapshotIdentifier: 'example-public' })
      .resolvesOnce(restore(['all']))
      .resolvesOnce(restore(['all']))
      .resolves(restore([]));
    rds
      .on(DescribeDBSnapshotAttributesCommand, { DBSnapshotIdentifier: 'example-partner' })
      .resolvesOnce(restore([OUTSIDE, '999988887777']))
      .resolvesOnce(restore([OUTSIDE, '999988887777']))
      .resolves(restore(['999988887777']));
    rds
      .on(DescribeDBClusterSnapshotAttributesCommand)
      .resolvesOnce(clusterRestore(['ALL']))
      .resolvesOnce(clusterRestore(['all']))
      .resolves(clusterRestore([]));
    rds.on(ModifyDBSnapshotAttributeCommand).resolves({});
    rds.on(ModifyDBClusterSnapshotAttributeCommand).resolves({});
    const deps = capturingDeps({ mode: 'live' });

    const summary = await runSweep(sharedDbSnapshotSweep, deps, RUN);

    expect(markers).toEqual([undefined, 'page-2']);
    expect(rds.commandCalls(ModifyDBSnapshotAttributeCommand).map((c) => c.args[0].input)).toEqual([
      { DBSnapshotIdentifier: 'example-public', AttributeName: 'restore', ValuesToRemove: ['all'] },
      // 999988887777 is in the sample config's trustedAccounts: it stays.
      { DBSnapshotIdentifier: 'example-partner', AttributeName: 'restore', ValuesToRemove: [OUTSIDE] },
    ]);
    expect(rds.commandCalls(ModifyDBClusterSnapshotAttributeCommand).map((c) => c.args[0].input)).toEqual([
      { DBClusterSnapshotIdentifier: 'example-cluster-public', AttributeName: 'restore', ValuesToRemove: ['all'] },
    ]);
    expect(deps.written.map((r) => [r.trigger, r.resources[0]?.id, r.outcome, r.severity])).toEqual([
      ['sweep', 'example-public', 'remediated', 'CRITICAL'],
      ['sweep', 'example-partner', 'remediated', 'HIGH'],
      ['sweep', 'example-cluster-public', 'remediated', 'CRITICAL'],
    ]);
    expect(summary).toMatchObject({ scanned: 4, findings: 3, complete: true });
  });

  it("in organisation mode, leaves snapshots shared only with the organisation's accounts out of the findings", async () => {
    const config = sampleConfig({ organization: { organizationId: 'o-a1b2c3d4e5', centralAccountId: OWN } });
    organizations.on(ListAccountsCommand).resolves({ Accounts: [{ Id: OWN }, { Id: MEMBER }] });
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: 'example-backup-copy' }, { DBSnapshotIdentifier: 'example-leak' }] });
    rds.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [] });
    rds.on(DescribeDBSnapshotAttributesCommand, { DBSnapshotIdentifier: 'example-backup-copy' }).resolves(restore([MEMBER]));
    rds.on(DescribeDBSnapshotAttributesCommand, { DBSnapshotIdentifier: 'example-leak' }).resolves(restore([MEMBER, OUTSIDE]));
    const deps = capturingDeps({ mode: 'dry-run', config });

    const summary = await runSweep(sharedDbSnapshotSweep, deps, RUN);

    expect(deps.written).toEqual([expect.objectContaining({ outcome: 'would-remediate', resources: [expect.objectContaining({ id: 'example-leak' })] })]);
    expect(deps.written[0]?.reason).toContain(`left shared (inside): ${MEMBER} is an account of the organisation`);
    expect(organizations.commandCalls(ListAccountsCommand)).toHaveLength(1); // read once, cached for the rule's own judgement
    expect(summary).toMatchObject({ findings: 1, complete: true });
  });

  it('stops at a failed attribute read as an incomplete sweep that names the snapshot', async () => {
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: 'example-denied' }] });
    rds.on(DescribeDBSnapshotAttributesCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
    const deps = capturingDeps({ mode: 'live' });

    const summary = await runSweep(sharedDbSnapshotSweep, deps, RUN);

    expect(summary).toMatchObject({ complete: false, error: { api: 'RDS.DescribeDBSnapshotAttributes', kind: 'denied' } });
    expect(deps.written).toEqual([]);
  });
});
