// moto serves no IAM Roles Anywhere: the live tests give the rule a fake of its small client (RolesAnywhereClient), the
// interface shared/aws/rolesanywhere.ts implements over HTTP (tested on its own against a local server).
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { FINDINGS, trustAnchorCreated } from '../../../functions/trust-anchor-created/rule.js';
import { stepOfReverse, type SelfSignature } from '../../../shared/actions/action.js';
import { disableTrustAnchorSignature } from '../../../shared/actions/rolesanywhere-trust-anchor.js';
import { ACTION_TYPES } from '../../../shared/actions/registry.js';
import { reversalOf } from '../../../shared/actions/reversal.js';
import type { RolesAnywhereClient, TrustAnchor } from '../../../shared/aws/rolesanywhere.js';
import type { Mode } from '../../../shared/config.js';
import { AwsCallError } from '../../../shared/errors.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const ID = '5b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d';
const CREATED = 'would-remediate.trust-anchor-created-certificate-bundle';
const sample = (name = CREATED) => loadSample(trustAnchorCreated.id, name);
const alertByDefault = () => sampleConfig({ rules: { 'trust-anchor-created': {} } });

/** A fake Roles Anywhere holding one anchor: `enabled` is what GetTrustAnchor reads, each answer in turn then the last. */
function fakeRolesAnywhere(reads: readonly (boolean | Error)[]) {
  let read = 0;
  const anchor = (enabled: boolean): TrustAnchor => ({ trustAnchorId: ID, name: 'ci-runners', enabled });
  const answer = async (): Promise<TrustAnchor> => {
    const next = reads[Math.min(read++, reads.length - 1)];
    if (next instanceof Error) throw next;
    return anchor(next ?? true);
  };
  const client = {
    getTrustAnchor: vi.fn<RolesAnywhereClient['getTrustAnchor']>(answer),
    disableTrustAnchor: vi.fn<RolesAnywhereClient['disableTrustAnchor']>(async () => anchor(false)),
    enableTrustAnchor: vi.fn<RolesAnywhereClient['enableTrustAnchor']>(async () => anchor(true)),
  };
  return client;
}

let fake = fakeRolesAnywhere([true]);
const withFake = { ...trustAnchorCreated, clients: () => ({ rolesAnywhere: fake }) };
const runWith = (mode: Mode, event: unknown = sample(), config = sampleConfig()) => run(withFake, event, capturingDeps({ mode, config }));

beforeEach(() => {
  fake = fakeRolesAnywhere([true]);
});

describe('trust-anchor-created offline', () => {
  it('plans to disable an anchor created enabled, HIGH, with the certificate nowhere in the page (remediate on in the sample config)', async () => {
    expect(FINDINGS).toEqual(['trust-anchor-created', 'trust-anchor-source-replaced', 'trust-anchor-enabled']);
    const { record, deps } = await runSample(trustAnchorCreated, CREATED);
    expect(record).toMatchObject({
      outcome: 'would-remediate',
      severity: 'HIGH',
      finding: 'trust-anchor-created',
      region: 'eu-west-1',
      resources: [{ type: 'AWS::RolesAnywhere::TrustAnchor', id: ID, name: 'ci-runners' }],
      actions: [{ api: 'RolesAnywhere.DisableTrustAnchor', params: { trustAnchorId: ID }, previous: { enabled: true } }],
    });
    const text = deps.published[0]?.text ?? '';
    expect(text).toContain(`aws rolesanywhere get-trust-anchor --trust-anchor-id '${ID}' --region 'eu-west-1'`);
    expect(text).not.toContain('BEGIN CERTIFICATE');
  });

  it('alerts by default with the exact quoted disable command', async () => {
    const record = await run(trustAnchorCreated, sample(), capturingDeps({ config: alertByDefault() }));
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'trust-anchor-created', actions: [] });
    expect(record.reason).toContain(
      `not disabled (remediate is off): to disable it, aws rolesanywhere disable-trust-anchor --trust-anchor-id '${ID}' --region 'eu-west-1'`,
    );
  });

  it('acts on a new CA source and on a re-enable; a rename or an anchor created disabled is compliant', async () => {
    expect((await runSample(trustAnchorCreated, 'would-remediate.trust-anchor-source-replaced')).record).toMatchObject({
      outcome: 'would-remediate',
      finding: 'trust-anchor-source-replaced',
      reason: expect.stringContaining('AWS_ACM_PCA'),
    });
    expect((await runSample(trustAnchorCreated, 'would-remediate.trust-anchor-enabled')).record.finding).toBe('trust-anchor-enabled');
    expect((await runSample(trustAnchorCreated, 'compliant.trust-anchor-renamed')).record.outcome).toBe('compliant');
    expect((await runSample(trustAnchorCreated, 'compliant.trust-anchor-created-disabled')).record.outcome).toBe('compliant');
  });

  it('ignores a denied CreateTrustAnchor and exempts the anchor the config names', async () => {
    expect((await runSample(trustAnchorCreated, 'ignored.create-trust-anchor-denied')).record.outcome).toBe('ignored');
    const { record } = await runSample(trustAnchorCreated, 'exempt.trust-anchor-plant-edge-devices');
    expect(record).toMatchObject({ outcome: 'exempt', exemptions: [{ reason: expect.stringContaining('SEC-3655') }] });
  });

  it('acts on a created anchor whose enabled state neither request nor response tells', async () => {
    const event = withDetail(sample(), {
      requestParameters: { name: 'ci-runners', source: { sourceType: 'CERTIFICATE_BUNDLE' } },
      responseElements: { trustAnchor: { trustAnchorId: ID } },
    });
    expect((await run(trustAnchorCreated, event, capturingDeps({ config: sampleConfig() }))).outcome).toBe('would-remediate');
  });

  it.each([
    [{ trustAnchor: { trustAnchorId: "x'; rm -rf /" } }, 'trustAnchor.trustAnchorId'],
    [null, 'requestParameters.trustAnchorId'],
  ])('refuses an anchor id that is no UUID (%j) as a parse error, never a call', async (responseElements, field) => {
    const record = await runWith('live', withDetail(sample(), { responseElements }));
    expect(record).toMatchObject({ outcome: 'failed', error: { kind: 'parse' } });
    expect(record.reason).toContain(field);
    expect(fake.getTrustAnchor).not.toHaveBeenCalled();
  });

  it("knows trailguard's own DisableTrustAnchor (the loop guard)", () => {
    const signature: SelfSignature = disableTrustAnchorSignature;
    expect(signature.eventName).toBe('DisableTrustAnchor');
    expect(signature.isOwnWrite({ trustAnchorId: ID }, { enforces: false, config: sampleConfig() })).toBe(true);
  });
});

describe('trust-anchor-created live', () => {
  it('disables it, reads it back disabled, and the reversal enables it again (read back enabled)', async () => {
    fake = fakeRolesAnywhere([true, false, true]);
    const record = await runWith('live');
    expect(record).toMatchObject({ outcome: 'remediated', actions: [{ status: 'done', verification: { ok: true } }] });
    expect(fake.disableTrustAnchor.mock.calls).toEqual([[ID]]);

    const action = record.actions[0];
    if (!action) throw new Error('no action');
    const reversal = reversalOf(ACTION_TYPES, record, action);
    if (reversal.kind !== 'steps') throw new Error(`expected steps, got ${reversal.kind}`);
    const [step] = reversal.steps;
    if (!step) throw new Error('no step');
    const planned = stepOfReverse(step);
    expect(step.type.command(planned)).toBe(`aws rolesanywhere enable-trust-anchor --trust-anchor-id '${ID}' --region 'eu-west-1'`);
    await step.type.perform(planned, { rolesAnywhere: fake } as never);
    expect(await step.type.verify(planned, { rolesAnywhere: fake } as never)).toMatchObject({ ok: true });
    expect(fake.enableTrustAnchor.mock.calls).toEqual([[ID]]);
  });

  it('decides on the anchor now, not on the event: created disabled but enabled since is disabled', async () => {
    fake = fakeRolesAnywhere([true, false]);
    expect((await runWith('live', sample('compliant.trust-anchor-created-disabled'))).outcome).toBe('remediated');
    expect(fake.disableTrustAnchor).toHaveBeenCalledTimes(1);
  });

  it('is compliant when the anchor is disabled now, with no write', async () => {
    fake = fakeRolesAnywhere([false]);
    expect(await runWith('live')).toMatchObject({ outcome: 'compliant', reason: expect.stringContaining('disabled now') });
    expect(fake.disableTrustAnchor).not.toHaveBeenCalled();
  });

  it('fails when it reads back still enabled', async () => {
    fake = fakeRolesAnywhere([true]);
    const record = await runWith('live');
    expect(record).toMatchObject({ outcome: 'failed', actions: [{ verification: { ok: false, detail: expect.stringContaining('still enabled') } }] });
  });

  it('reads but never writes when remediate is off, or in dry-run', async () => {
    expect((await runWith('live', sample(), alertByDefault())).outcome).toBe('alerted');
    expect((await runWith('dry-run')).outcome).toBe('would-remediate');
    expect(fake.getTrustAnchor).toHaveBeenCalledTimes(2);
    expect(fake.disableTrustAnchor).not.toHaveBeenCalled();
  });

  it('fails naming the IAM action when the read or the write is denied', async () => {
    fake = fakeRolesAnywhere([new AwsCallError('RolesAnywhere.GetTrustAnchor', ID, 'denied', 'AccessDeniedException')]);
    expect(await runWith('live')).toMatchObject({ outcome: 'failed', error: { kind: 'denied', permission: 'rolesanywhere:GetTrustAnchor' } });
    expect(fake.disableTrustAnchor).not.toHaveBeenCalled();

    fake = fakeRolesAnywhere([true]);
    fake.disableTrustAnchor.mockRejectedValue(new AwsCallError('RolesAnywhere.DisableTrustAnchor', ID, 'denied', 'AccessDeniedException'));
    const record = await runWith('live');
    expect(record).toMatchObject({
      outcome: 'failed',
      actions: [{ status: 'failed', error: 'denied: AccessDeniedException' }],
      error: { kind: 'denied', permission: 'rolesanywhere:DisableTrustAnchor' },
    });
  });

  it('ignores an anchor deleted before it was read', async () => {
    fake = fakeRolesAnywhere([new AwsCallError('RolesAnywhere.GetTrustAnchor', ID, 'gone', 'ResourceNotFoundException')]);
    expect((await runWith('live')).outcome).toBe('ignored');
    expect(fake.disableTrustAnchor).not.toHaveBeenCalled();
  });
});
