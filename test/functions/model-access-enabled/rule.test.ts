import { describe, expect, it } from 'vitest';
import { FINDINGS, modelAccessEnabled } from '../../../functions/model-access-enabled/rule.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

describe('model-access-enabled', () => {
  it.each([
    ['alerted.foundation-model-agreement-created', 'AWS::Bedrock::FoundationModel', 'anthropic.claude-3-5-sonnet-20240620-v1:0'],
    ['alerted.foundation-model-entitlement', 'AWS::Bedrock::FoundationModel', 'meta.llama3-70b-instruct-v1:0'],
    ['alerted.use-case-for-model-access', 'AWS::::Account', '111122223333'],
  ])('%s: alerts MEDIUM on the model (or the account)', async (name, type, id) => {
    expect(FINDINGS).toEqual(['model-access-enabled']);
    const { record } = await runSample(modelAccessEnabled, name);
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'MEDIUM', finding: 'model-access-enabled', resources: [{ type, id }], actions: [] });
  });

  it('keeps a denied attempt as compliant with its error; a read is no event of the rule', async () => {
    expect((await runSample(modelAccessEnabled, 'compliant.model-agreement-denied')).record).toMatchObject({
      outcome: 'compliant',
      reason: expect.stringContaining('AccessDeniedException'),
    });
    expect((await runSample(modelAccessEnabled, 'ignored.get-use-case-for-model-access')).record.outcome).toBe('ignored');
  });

  it('refuses a model id that is no model id as a parse error', async () => {
    const event = withDetail(loadSample(modelAccessEnabled.id, 'alerted.foundation-model-agreement-created'), { requestParameters: { modelId: '$(id)' } });
    const record = await run(modelAccessEnabled, event, capturingDeps({ config: sampleConfig() }));
    expect(record).toMatchObject({ outcome: 'failed', error: { kind: 'parse' } });
  });
});
