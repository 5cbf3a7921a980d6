import {
  DescribeDBClusterSnapshotAttributesCommand,
  DescribeDBSnapshotAttributesCommand,
  ModifyDBClusterSnapshotAttributeCommand,
  ModifyDBSnapshotAttributeCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { ListAccountsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sharedDbSnapshot } from '../../../functions/shared-db-snapshot/rule.js';
import { modifyDBSnapshotAttributeSignature } from '../../../shared/actions/rds-modify-db-snapshot-attribute.js';
import { resetOrganizationsClients } from '../../../shared/aws/organizations.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const rds = mockClient(RDSClient);
const organizations = mockClient(OrganizationsClient);
const OUTSIDE = '444455556666';
const SNAPSHOT = 'orders-db-2026-11-20';
const restore = (values: string[]) => ({
  DBSnapshotAttributesResult: { DBSnapshotIdentifier: SNAPSHOT, DBSnapshotAttributes: [{ AttributeName: 'restore', AttributeValues: values }] },
});

beforeEach(() => {
  rds.reset();
  rds.rejects(new Error('unexpected RDS call'));
  organizations.reset();
  organizations.rejects(new Error('unexpected Organizations call'));
  resetOrganizationsClients();
});
afterEach(() => {
  rds.reset();
  organizations.reset();
});

const sample = () => loadSample(sharedDbSnapshot.id, 'would-remediate.db-snapshot-shared-with-outside-account');
const share = (requestParameters: unknown) => withDetail(sample(), { requestParameters });
const runOffline = (event: unknown, config = sampleConfig()) => run(sharedDbSnapshot, event, capturingDeps({ config }));
const runLive = (event: unknown, config = sampleConfig()) => run(sharedDbSnapshot, event, capturingDeps({ config, mode: 'live' }));

describe('shared-db-snapshot offline', () => {
  it('plans to remove a named outside account, HIGH, keeping it as previous', async () => {
    const { record } = await runSample(sharedDbSnapshot, 'would-remediate.db-snapshot-shared-with-outside-account');
    expect(record).toMatchObject({
      outcome: 'would-remediate',
      severity: 'HIGH',
      finding: 'shared-outside',
      resources: [{ type: 'AWS::RDS::DBSnapshot', id: SNAPSHOT }],
      actions: [
        {
          api: 'RDS.ModifyDBSnapshotAttribute',
          params: { DBSnapshotIdentifier: SNAPSHOT, AttributeName: 'restore', ValuesToRemove: [OUTSIDE] },
          previous: { RestoreValues: [OUTSIDE] },
        },
      ],
    });
  });

  it('calls a public cluster snapshot (named by ARN) CRITICAL and acts on its name', async () => {
    const { record } = await runSample(sharedDbSnapshot, 'would-remediate.cluster-snapshot-made-public');
    expect(record).toMatchObject({
      severity: 'CRITICAL',
      finding: 'db-snapshot-public',
      actions: [{ api: 'RDS.ModifyDBClusterSnapshotAttribute', params: { DBClusterSnapshotIdentifier: 'billing-aurora-final', ValuesToRemove: ['all'] } }],
    });
  });

  it('dedupes values (All and all are one) and caps the reason at ten names', async () => {
    const many = Array.from({ length: 14 }, (_, i) => `4444555566${String(i).padStart(2, '0')}`);
    const record = await runOffline(share({ dBSnapshotIdentifier: SNAPSHOT, attributeName: 'Restore', valuesToAdd: ['All', 'all', ...many, ...many] }));
    expect(record.actions[0]?.params).toEqual({ DBSnapshotIdentifier: SNAPSHOT, AttributeName: 'restore', ValuesToRemove: ['all', ...many] });
    expect(record.reason).toContain('… and 5 more');
  });

  it.each([
    [{ dBSnapshotIdentifier: SNAPSHOT, attributeName: 'restore', valuesToAdd: { items: [OUTSIDE] } }, 'valuesToAdd'],
    [{ dBSnapshotIdentifier: SNAPSHOT, attributeName: 'restore', valuesToAdd: ['4444'] }, 'valuesToAdd.0'],
    [{ dBSnapshotIdentifier: "x'; rm -rf /", attributeName: 'restore', valuesToAdd: [OUTSIDE] }, 'dBSnapshotIdentifier'],
    [{ dBSnapshotIdentifier: 'arn:aws:rds:eu-west-1:222233334444:snapshot:theirs', attributeName: 'restore', valuesToAdd: [OUTSIDE] }, 'dBSnapshotIdentifier'],
    [
      { dBSnapshotIdentifier: 'arn:aws:rds:eu-west-1:111122223333:cluster-snapshot:c1', attributeName: 'restore', valuesToAdd: [OUTSIDE] },
      'dBSnapshotIdentifier',
    ],
  ])('refuses an unexpected shape %j as a parse error naming %s, never "adds nothing"', async (request, field) => {
    const record = await runOffline(share(request));
    expect(record.actions).toEqual([]);
    expect(record.outcome).not.toMatch(/would-remediate|compliant/);
    expect(JSON.stringify(record)).toContain(field);
  });

  it('alerts HIGH and leaves shared an account it cannot judge (organisation unread offline)', async () => {
    const config = sampleConfig({
      organization: {
        organizationId: 'o-exampleorg1',
        centralAccountId: '111122223333',
        memberRoleName: 'trailguard-member',
        externalId: 'ext-0123456789abcdef',
      },
    });
    const record = await runOffline(sample(), config);
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'shared-unjudged', actions: [] });
  });

  it("ignores trailguard's own remove (the loop guard) and judges an add as someone else's", () => {
    const caller = { enforces: false, config: sampleConfig() };
    expect(modifyDBSnapshotAttributeSignature.isOwnWrite({ dBSnapshotIdentifier: SNAPSHOT, attributeName: 'restore', valuesToRemove: [OUTSIDE] }, caller)).toBe(
      true,
    );
    expect(modifyDBSnapshotAttributeSignature.isOwnWrite({ dBSnapshotIdentifier: SNAPSHOT, attributeName: 'restore', valuesToAdd: [OUTSIDE] }, caller)).toBe(
      false,
    );
    expect(modifyDBSnapshotAttributeSignature.isOwnWrite({ dBSnapshotIdentifier: SNAPSHOT, attributeName: 'restore', ValuesToAdd: ['all'] }, caller)).toBe(
      false,
    );
  });
});

describe('shared-db-snapshot loop guard', () => {
  const ROLE = {
    type: 'AssumedRole',
    accountId: '111122223333',
    arn: 'arn:aws:sts::111122223333:assumed-role/trailguard-prod-x-role/trailguard-prod-x',
    sessionContext: { sessionIssuer: { type: 'Role', arn: 'arn:aws:iam::111122223333:role/trailguard-prod-x-role', userName: 'trailguard-prod-x-role' } },
  };

  it("ends trailguard's own remove ignored, with no call", async () => {
    const event = withDetail(sample(), {
      userIdentity: ROLE,
      requestParameters: { dBSnapshotIdentifier: SNAPSHOT, attributeName: 'restore', valuesToRemove: [OUTSIDE] },
    });
    const record = await runLive(event);
    expect(record.outcome).toBe('ignored');
    expect(record.reason).toContain('caused by trailguard itself');
    expect(rds.calls()).toHaveLength(0);
  });

  it('still judges an add made with a role named like its own (undo, or a stolen session)', async () => {
    rds.on(DescribeDBSnapshotAttributesCommand).resolves(restore([OUTSIDE]));
    const record = await run(sharedDbSnapshot, withDetail(sample(), { userIdentity: ROLE }), capturingDeps({ mode: 'dry-run' }));
    expect(record.outcome).toBe('would-remediate');
  });
});

describe('shared-db-snapshot live: decided from the values now', () => {
  it('removes exactly the outside values still there, then reads back', async () => {
    rds
      .on(DescribeDBSnapshotAttributesCommand)
      .resolvesOnce(restore([OUTSIDE, '999988887777']))
      .resolves(restore(['999988887777']));
    rds.on(ModifyDBSnapshotAttributeCommand).resolves({});
    const record = await runLive(share({ dBSnapshotIdentifier: SNAPSHOT, attributeName: 'restore', valuesToAdd: [OUTSIDE, '999988887777'] }));
    expect(record.outcome).toBe('remediated');
    expect(rds.commandCalls(ModifyDBSnapshotAttributeCommand).map((c) => c.args[0].input)).toEqual([
      { DBSnapshotIdentifier: SNAPSHOT, AttributeName: 'restore', ValuesToRemove: [OUTSIDE] },
    ]);
  });

  it('is compliant when none of the outside values remains', async () => {
    rds.on(DescribeDBSnapshotAttributesCommand).resolves(restore([]));
    const record = await runLive(sample());
    expect(record.outcome).toBe('compliant');
    expect(rds.commandCalls(ModifyDBSnapshotAttributeCommand)).toHaveLength(0);
  });

  it('reads a cluster snapshot with the cluster API', async () => {
    const result = (values: string[]) => ({
      DBClusterSnapshotAttributesResult: { DBClusterSnapshotAttributes: [{ AttributeName: 'restore', AttributeValues: values }] },
    });
    rds
      .on(DescribeDBClusterSnapshotAttributesCommand)
      .resolvesOnce(result(['all']))
      .resolves(result([]));
    rds.on(ModifyDBClusterSnapshotAttributeCommand).resolves({});
    const record = await runLive(loadSample(sharedDbSnapshot.id, 'would-remediate.cluster-snapshot-made-public'));
    expect(record.outcome).toBe('remediated');
    expect(organizations.commandCalls(ListAccountsCommand)).toHaveLength(0);
  });
});
