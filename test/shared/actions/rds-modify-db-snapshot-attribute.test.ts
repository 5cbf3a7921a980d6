import {
  DescribeDBClusterSnapshotAttributesCommand,
  DescribeDBSnapshotAttributesCommand,
  ModifyDBClusterSnapshotAttributeCommand,
  ModifyDBSnapshotAttributeCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stepOf, stepOfReverse, type AnyActionType, type Step } from '../../../shared/actions/action.js';
import {
  modifyDBClusterSnapshotAttribute,
  modifyDBSnapshotAttribute,
  type DbSnapshotSharingPrevious,
  type ModifyDBSnapshotAttributeParams,
} from '../../../shared/actions/rds-modify-db-snapshot-attribute.js';

const rds = mockClient(RDSClient);
const clients = { rds: new RDSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }) };
const SNAPSHOT = 'orders-db-2026-11-20';
const RESOURCE = { type: 'AWS::RDS::DBSnapshot', id: SNAPSHOT };
const REMOVE = { DBSnapshotIdentifier: SNAPSHOT, AttributeName: 'restore', ValuesToRemove: ['444455556666', 'all'] };
const PREVIOUS = { RestoreValues: ['444455556666', 'all'] };
const restore = (values: string[]) => ({ DBSnapshotAttributesResult: { DBSnapshotAttributes: [{ AttributeName: 'restore', AttributeValues: values }] } });

const stepFor = (params: unknown, previous: unknown = PREVIOUS, type: AnyActionType = modifyDBSnapshotAttribute) =>
  stepOf(type, { api: type.api, resource: RESOURCE, params, previous }, 'eu-west-1') as Step<ModifyDBSnapshotAttributeParams, DbSnapshotSharingPrevious>;

beforeEach(() => {
  rds.reset();
  rds.rejects(new Error('unexpected RDS call'));
});
afterEach(() => rds.reset());

describe('RDS.ModifyDB(Cluster)SnapshotAttribute params', () => {
  it.each([
    { ...REMOVE, DBSnapshotIdentifier: "orders' --debug" },
    { ...REMOVE, DBSnapshotIdentifier: 'rds:orders-db-2026-11-20-06-00' },
    { ...REMOVE, ValuesToRemove: ['4444555566'] },
    { ...REMOVE, ValuesToRemove: ['everyone'] },
    { ...REMOVE, ValuesToRemove: [] },
    { ...REMOVE, AttributeName: 'copy' },
    { ...REMOVE, ValuesToAdd: ['all'] },
    { DBSnapshotIdentifier: SNAPSHOT, AttributeName: 'restore' },
  ])('refuses %j before any call', (params) => {
    expect(() => stepFor(params)).toThrow(expect.objectContaining({ kind: 'invalid', code: 'InvalidActionParams' }));
  });

  it('refuses a DB snapshot identifier in a cluster action', () => {
    expect(() => stepFor(REMOVE, PREVIOUS, modifyDBClusterSnapshotAttribute)).toThrow(expect.objectContaining({ code: 'InvalidActionParams' }));
  });
});

describe('RDS.ModifyDBSnapshotAttribute perform, verify, reverse', () => {
  it('sends exactly the values to remove', async () => {
    rds.on(ModifyDBSnapshotAttributeCommand).resolves({});
    await modifyDBSnapshotAttribute.perform(stepFor(REMOVE), clients);
    expect(rds.commandCalls(ModifyDBSnapshotAttributeCommand).map((c) => c.args[0].input)).toEqual([REMOVE]);
  });

  it('reads back a remove as done only when none of them is left', async () => {
    rds
      .on(DescribeDBSnapshotAttributesCommand)
      .resolvesOnce(restore(['999988887777']))
      .resolves(restore(['all']));
    expect(await modifyDBSnapshotAttribute.verify(stepFor(REMOVE), clients)).toEqual({ ok: true, detail: `${SNAPSHOT} reads back without 444455556666, all` });
    expect(await modifyDBSnapshotAttribute.verify(stepFor(REMOVE), clients)).toEqual({ ok: false, detail: `${SNAPSHOT} is still shared with all` });
  });

  it('reverses a remove by adding back exactly what it removed, and an add not at all', () => {
    const reversal = modifyDBSnapshotAttribute.reverse(stepFor(REMOVE));
    if (reversal.kind !== 'steps') throw new Error(`expected steps, got ${reversal.kind}`);
    const [step] = reversal.steps;
    if (!step) throw new Error('no step');
    expect(step.action.params).toEqual({ DBSnapshotIdentifier: SNAPSHOT, AttributeName: 'restore', ValuesToAdd: ['444455556666', 'all'] });
    expect(step.type.command(stepOfReverse(step))).toBe(
      `aws rds modify-db-snapshot-attribute --region 'eu-west-1' --db-snapshot-identifier '${SNAPSHOT}' --attribute-name 'restore' --values-to-add '444455556666' 'all'`,
    );
    expect(step.type.retriggers).toBe(true);
    expect(modifyDBSnapshotAttribute.reverse(stepFor(REMOVE, { RestoreValues: [] })).kind).toBe('none');
    expect(modifyDBSnapshotAttribute.reverse(stepFor({ DBSnapshotIdentifier: SNAPSHOT, AttributeName: 'restore', ValuesToAdd: ['all'] })).kind).toBe('none');
  });
});

describe('RDS.ModifyDBClusterSnapshotAttribute', () => {
  const CLUSTER = { DBClusterSnapshotIdentifier: 'billing-aurora-final', AttributeName: 'restore', ValuesToRemove: ['all'] };

  it('removes and reads back with the cluster APIs', async () => {
    rds.on(ModifyDBClusterSnapshotAttributeCommand).resolves({});
    rds
      .on(DescribeDBClusterSnapshotAttributesCommand)
      .resolves({ DBClusterSnapshotAttributesResult: { DBClusterSnapshotAttributes: [{ AttributeName: 'restore', AttributeValues: [] }] } });
    const step = stepFor(CLUSTER, { RestoreValues: ['all'] }, modifyDBClusterSnapshotAttribute);
    await modifyDBClusterSnapshotAttribute.perform(step as never, clients);
    expect(rds.commandCalls(ModifyDBClusterSnapshotAttributeCommand).map((c) => c.args[0].input)).toEqual([CLUSTER]);
    expect(await modifyDBClusterSnapshotAttribute.verify(step as never, clients)).toMatchObject({ ok: true });
    expect(modifyDBClusterSnapshotAttribute.command(step as never)).toContain("--db-cluster-snapshot-identifier 'billing-aurora-final'");
  });
});
