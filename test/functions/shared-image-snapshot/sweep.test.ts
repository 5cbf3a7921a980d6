import {
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeSnapshotAttributeCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sharedImageSnapshotSweep } from '../../../functions/shared-image-snapshot/sweep.js';
import { SWEEPS } from '../../../functions/sweeps.js';
import { runSweep, type SweepRun } from '../../../shared/runner/sweep.js';
import { capturingDeps, sampleConfig } from '../../helpers/samples.js';

const ec2 = mockClient(EC2Client);
const RUN: SweepRun = { region: 'eu-west-1', account: '111122223333', window: '2026-11-25T12:00:00.000Z', deadline: Number.POSITIVE_INFINITY };
const PUBLIC_SNAPSHOT = 'snap-0aaaaaaaaaaaaaaa1';
const SECOND_PAGE_SNAPSHOT = 'snap-0aaaaaaaaaaaaaaa2';
const PUBLIC_IMAGE = 'ami-0bbbbbbbbbbbbbbb1';
const PARTNER = '444455556666';

beforeEach(() => {
  ec2.reset();
  ec2.rejects(new Error('unexpected AWS call')); // unmocked calls fail loudly
});
afterEach(() => ec2.reset());

// The paginators reuse one input object and set the next token on it: copy each input when it is sent.
function listed(seen: object[], pages: Record<string, object>) {
  return (input: { NextToken?: string }) => {
    seen.push({ ...input });
    return pages[input.NextToken ?? 'first'];
  };
}

describe('shared-image-snapshot sweep', () => {
  it('is one of the sweeps the CLI and the member stack know', () => {
    // By identity: chai would format the rule, whose `inspect` it takes for a custom inspector.
    expect(SWEEPS.includes(sharedImageSnapshotSweep)).toBe(true);
  });

  it("lists only this account's public snapshots and images, pages on, and removes only `all`, never a named share", async () => {
    const snapshotInputs: object[] = [];
    const imageInputs: object[] = [];
    ec2.on(DescribeSnapshotsCommand).callsFake(
      listed(snapshotInputs, {
        first: { Snapshots: [{ SnapshotId: PUBLIC_SNAPSHOT }], NextToken: 'page-2' },
        'page-2': { Snapshots: [{ SnapshotId: SECOND_PAGE_SNAPSHOT }] },
      }),
    );
    ec2.on(DescribeImagesCommand).callsFake(listed(imageInputs, { first: { Images: [{ ImageId: PUBLIC_IMAGE, Public: true }] } }));
    ec2
      .on(DescribeSnapshotAttributeCommand, { SnapshotId: PUBLIC_SNAPSHOT })
      .resolvesOnce({ CreateVolumePermissions: [{ Group: 'all' }, { UserId: PARTNER }] })
      .resolves({ CreateVolumePermissions: [{ UserId: PARTNER }] });
    // Made private by a person between the list and the rule's own read: nothing to do.
    ec2.on(DescribeSnapshotAttributeCommand, { SnapshotId: SECOND_PAGE_SNAPSHOT }).resolves({ CreateVolumePermissions: [] });
    ec2
      .on(DescribeImageAttributeCommand)
      .resolvesOnce({ LaunchPermissions: [{ Group: 'all' }] })
      .resolves({ LaunchPermissions: [] });
    ec2.on(ModifySnapshotAttributeCommand).resolves({});
    ec2.on(ModifyImageAttributeCommand).resolves({});
    const deps = capturingDeps({ mode: 'live' });

    const summary = await runSweep(sharedImageSnapshotSweep, deps, RUN);

    expect(snapshotInputs).toEqual([
      { OwnerIds: ['self'], RestorableByUserIds: ['all'], MaxResults: 1000 },
      { OwnerIds: ['self'], RestorableByUserIds: ['all'], MaxResults: 1000, NextToken: 'page-2' },
    ]);
    expect(imageInputs).toEqual([{ Owners: ['self'], ExecutableUsers: ['all'], MaxResults: 1000 }]);
    expect(ec2.commandCalls(ModifySnapshotAttributeCommand).map((c) => c.args[0].input)).toEqual([
      { SnapshotId: PUBLIC_SNAPSHOT, Attribute: 'createVolumePermission', OperationType: 'remove', GroupNames: ['all'] },
    ]);
    expect(ec2.commandCalls(ModifyImageAttributeCommand).map((c) => c.args[0].input)).toEqual([
      { ImageId: PUBLIC_IMAGE, LaunchPermission: { Remove: [{ Group: 'all' }] } },
    ]);
    expect(deps.written.map((r) => [r.trigger, r.resources[0]?.id, r.outcome, r.severity])).toEqual([
      ['sweep', PUBLIC_SNAPSHOT, 'remediated', 'CRITICAL'],
      ['sweep', SECOND_PAGE_SNAPSHOT, 'compliant', null],
      ['sweep', PUBLIC_IMAGE, 'remediated', 'CRITICAL'],
    ]);
    expect(summary).toMatchObject({ scanned: 3, findings: 3, complete: true, outcomes: { remediated: 2, compliant: 1 } });
  });

  it('writes nothing in dry-run, and leaves an exempt image public with an exempt record', async () => {
    ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: PUBLIC_SNAPSHOT }] });
    // The sample config exempts this community AMI from the rule.
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-0c0ffee0c0ffee000', Public: true }] });
    ec2.on(DescribeSnapshotAttributeCommand).resolves({ CreateVolumePermissions: [{ Group: 'all' }] });
    const deps = capturingDeps({ mode: 'dry-run', config: sampleConfig() });

    await runSweep(sharedImageSnapshotSweep, deps, RUN);

    expect(ec2.commandCalls(ModifySnapshotAttributeCommand)).toHaveLength(0);
    expect(ec2.commandCalls(DescribeImageAttributeCommand)).toHaveLength(0);
    expect(deps.written.map((r) => r.outcome)).toEqual(['would-remediate', 'exempt']);
  });

  it('ends a throttled list as an incomplete sweep that names where it stopped, not a crash', async () => {
    ec2.on(DescribeSnapshotsCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503 } }));
    const deps = capturingDeps({ mode: 'live' });

    const summary = await runSweep(sharedImageSnapshotSweep, deps, RUN);

    expect(summary).toMatchObject({ complete: false, findings: 0, error: { api: 'EC2.DescribeSnapshots', kind: 'transient' } });
    expect(summary.stoppedAt).toContain('EC2.DescribeSnapshots');
    expect(deps.written).toEqual([]);
  });
});
