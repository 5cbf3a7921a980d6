import { describe, expect, it } from 'vitest';
import { FINDINGS, trustAnchorCreated } from '../../../functions/trust-anchor-created/rule.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const ID = '5b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d';
const CREATED = 'alerted.trust-anchor-created-certificate-bundle';

describe('trust-anchor-created', () => {
  it('alerts HIGH on an enabled anchor created, with the quoted disable command and no certificate in the page', async () => {
    expect(FINDINGS).toEqual(['trust-anchor-created', 'trust-anchor-source-replaced', 'trust-anchor-enabled']);
    const { record, deps } = await runSample(trustAnchorCreated, CREATED);
    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'HIGH',
      finding: 'trust-anchor-created',
      resources: [{ type: 'AWS::RolesAnywhere::TrustAnchor', id: ID, name: 'ci-runners' }],
      actions: [],
    });
    const text = deps.published[0]?.text ?? '';
    expect(text).toContain(`aws rolesanywhere disable-trust-anchor --trust-anchor-id '${ID}' --region 'eu-west-1'`);
    expect(text).not.toContain('BEGIN CERTIFICATE');
  });

  it('alerts on a new CA source and on a re-enable; a rename or an anchor created disabled is compliant', async () => {
    expect((await runSample(trustAnchorCreated, 'alerted.trust-anchor-source-replaced')).record).toMatchObject({
      finding: 'trust-anchor-source-replaced',
      reason: expect.stringContaining('AWS_ACM_PCA'),
    });
    expect((await runSample(trustAnchorCreated, 'alerted.trust-anchor-enabled')).record.finding).toBe('trust-anchor-enabled');
    expect((await runSample(trustAnchorCreated, 'compliant.trust-anchor-renamed')).record.outcome).toBe('compliant');
    expect((await runSample(trustAnchorCreated, 'compliant.trust-anchor-created-disabled')).record.outcome).toBe('compliant');
  });

  it('alerts on a created anchor whose enabled state neither request nor response tells', async () => {
    const event = withDetail(loadSample(trustAnchorCreated.id, CREATED), {
      requestParameters: { name: 'ci-runners', source: { sourceType: 'CERTIFICATE_BUNDLE' } },
      responseElements: { trustAnchor: { trustAnchorId: ID } },
    });
    expect((await run(trustAnchorCreated, event, capturingDeps({ config: sampleConfig() }))).outcome).toBe('alerted');
  });

  it.each([
    [{ trustAnchor: { trustAnchorId: "x'; rm -rf /" } }, 'trustAnchor.trustAnchorId'],
    [null, 'requestParameters.trustAnchorId'],
  ])('refuses an anchor id that is no UUID (%j) as a parse error, never a command', async (responseElements, field) => {
    const event = withDetail(loadSample(trustAnchorCreated.id, CREATED), { responseElements });
    const record = await run(trustAnchorCreated, event, capturingDeps({ config: sampleConfig() }));
    expect(record).toMatchObject({ outcome: 'failed', error: { kind: 'parse' } });
    expect(record.reason).toContain(field);
  });
});
