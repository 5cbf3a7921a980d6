import {
  CreateDBClusterCommand,
  CreateDBClusterSnapshotCommand,
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  ModifyDBClusterSnapshotAttributeCommand,
  ModifyDBSnapshotAttributeCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { describe, expect, it } from 'vitest';
import { restoreValues } from '../../../shared/actions/rds-modify-db-snapshot-attribute.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { ACCOUNT, ENDPOINT, REGION } from '../../e2e/helpers/emulator.js';
import { sampleEvent } from '../../e2e/helpers/events.js';
import { invokeHandler } from '../../e2e/helpers/invoke.js';
import { freshStackPerTest } from '../../e2e/helpers/stack.js';
import { reverseRecord } from '../../e2e/helpers/reverse.js';

const stack = freshStackPerTest();
const env = stack.env;
const rds = new RDSClient({
  region: REGION,
  endpoint: ENDPOINT,
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'testing', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'testing' },
  maxAttempts: 1,
});
const OUTSIDE = '444455556666';
/** Shared before the event, by someone else: the event is no evidence about it, so it stays. */
const EARLIER = '777766665555';
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;

async function newDbSnapshot(): Promise<string> {
  const db = unique('e2e-db');
  await rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: db,
      Engine: 'postgres',
      DBInstanceClass: 'db.t3.micro',
      AllocatedStorage: 20,
      MasterUsername: 'admin1',
      MasterUserPassword: 'not-a-secret-1',
    }),
  );
  const snapshot = unique('e2e-snap');
  await rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: db, DBSnapshotIdentifier: snapshot }));
  return snapshot;
}

async function newClusterSnapshot(): Promise<string> {
  const cluster = unique('e2e-cluster');
  await rds.send(
    new CreateDBClusterCommand({ DBClusterIdentifier: cluster, Engine: 'aurora-postgresql', MasterUsername: 'admin1', MasterUserPassword: 'not-a-secret-1' }),
  );
  const snapshot = unique('e2e-csnap');
  await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: cluster, DBClusterSnapshotIdentifier: snapshot }));
  return snapshot;
}

const sorted = async (kind: 'instance' | 'cluster', id: string) => [...(await restoreValues(rds, kind, id))].sort();

const reverse = (record: RemediationRecord) => reverseRecord(record, { rds });

describe('shared-db-snapshot against the emulator', () => {
  it('live: removes the outside account and public from a DB snapshot, keeps an earlier share, and the reversal re-adds exactly them', async () => {
    const id = await newDbSnapshot();
    await rds.send(new ModifyDBSnapshotAttributeCommand({ DBSnapshotIdentifier: id, AttributeName: 'restore', ValuesToAdd: [EARLIER] }));
    await rds.send(new ModifyDBSnapshotAttributeCommand({ DBSnapshotIdentifier: id, AttributeName: 'restore', ValuesToAdd: [OUTSIDE, 'all'] }));
    const event = sampleEvent('shared-db-snapshot', 'would-remediate.db-snapshot-shared-with-outside-account', {
      requestParameters: { dBSnapshotIdentifier: id, attributeName: 'restore', valuesToAdd: [OUTSIDE, 'all'] },
    });

    const { record } = await invokeHandler('shared-db-snapshot', event, env('live'));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'CRITICAL',
      actions: [
        {
          api: 'RDS.ModifyDBSnapshotAttribute',
          status: 'done',
          params: { DBSnapshotIdentifier: id, AttributeName: 'restore', ValuesToRemove: [OUTSIDE, 'all'] },
          previous: { RestoreValues: [OUTSIDE, 'all'] },
          verification: { ok: true },
        },
      ],
      notification: { status: 'sent' },
    });
    expect(await sorted('instance', id)).toEqual([EARLIER]);
    expect(await stack.received()).toMatchObject([
      { attributes: { rule: 'shared-db-snapshot', severity: 'CRITICAL', outcome: 'remediated', account: ACCOUNT } },
    ]);

    await reverse(record);
    expect(await sorted('instance', id)).toEqual([OUTSIDE, EARLIER, 'all'].sort());
  });

  it('dry-run: plans the remove and changes nothing', async () => {
    const id = await newDbSnapshot();
    await rds.send(new ModifyDBSnapshotAttributeCommand({ DBSnapshotIdentifier: id, AttributeName: 'restore', ValuesToAdd: [OUTSIDE] }));
    const event = sampleEvent('shared-db-snapshot', 'would-remediate.db-snapshot-shared-with-outside-account', {
      requestParameters: { dBSnapshotIdentifier: id, attributeName: 'restore', valuesToAdd: [OUTSIDE] },
    });

    const { record } = await invokeHandler('shared-db-snapshot', event, env('dry-run'));

    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ status: 'planned' }] });
    expect(await sorted('instance', id)).toEqual([OUTSIDE]);
  });

  it('live: is compliant when the share is already gone', async () => {
    const id = await newDbSnapshot();
    const event = sampleEvent('shared-db-snapshot', 'would-remediate.db-snapshot-shared-with-outside-account', {
      requestParameters: { dBSnapshotIdentifier: id, attributeName: 'restore', valuesToAdd: [OUTSIDE] },
    });

    const { record } = await invokeHandler('shared-db-snapshot', event, env('live'));

    expect(record).toMatchObject({ outcome: 'compliant', actions: [] });
  });

  it('live: makes a public cluster snapshot (named by its ARN) private again', async () => {
    const id = await newClusterSnapshot();
    await rds.send(new ModifyDBClusterSnapshotAttributeCommand({ DBClusterSnapshotIdentifier: id, AttributeName: 'restore', ValuesToAdd: ['all'] }));
    const event = sampleEvent('shared-db-snapshot', 'would-remediate.cluster-snapshot-made-public', {
      requestParameters: {
        dBClusterSnapshotIdentifier: `arn:aws:rds:${REGION}:${ACCOUNT}:cluster-snapshot:${id}`,
        attributeName: 'restore',
        valuesToAdd: ['all'],
      },
    });

    const { record } = await invokeHandler('shared-db-snapshot', event, env('live'));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'CRITICAL',
      finding: 'db-snapshot-public',
      actions: [{ api: 'RDS.ModifyDBClusterSnapshotAttribute', status: 'done', params: { DBClusterSnapshotIdentifier: id, ValuesToRemove: ['all'] } }],
    });
    expect(await sorted('cluster', id)).toEqual([]);
  });
});
