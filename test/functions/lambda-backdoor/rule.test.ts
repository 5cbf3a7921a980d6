import { describe, expect, it } from 'vitest';
import { lambdaBackdoor } from '../../../functions/lambda-backdoor/rule.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const ACCOUNT = '111122223333';
const layersEvent = (layers: unknown) =>
  withDetail(loadSample(lambdaBackdoor.id, 'alerted.layer-from-another-account'), { requestParameters: { functionName: 'orders-export', layers } });
const codeEvent = () => loadSample(lambdaBackdoor.id, 'alerted.code-updated-by-a-person');
const runOffline = (event: unknown, config = sampleConfig()) => run(lambdaBackdoor, event, capturingDeps({ config }));
const layer = (account: string, name = 'x') => `arn:aws:lambda:eu-west-1:${account}:layer:${name}:3`;

describe('lambda-backdoor: layers', () => {
  it("alerts HIGH on a layer of another account, naming it, the function and who, not the account's own layer", async () => {
    const { record, deps } = await runSample(lambdaBackdoor, 'alerted.layer-from-another-account');
    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'HIGH',
      finding: 'foreign-layer',
      resources: [{ type: 'AWS::Lambda::Function', id: 'orders-export' }],
    });
    expect(record.reason).toContain('arn:aws:lambda:eu-west-1:444455556666:layer:perf-monitor:1');
    expect(record.reason).not.toContain('shared-utils');
    expect(record.reason).toContain('bob');
    expect(deps.published[0]?.text).toContain("aws lambda get-function-configuration --region 'eu-west-1' --function-name 'orders-export'");
  });

  it('leaves out the layers of trustedLayerAccounts, trustedAccounts and the central account', async () => {
    const config = sampleConfig({ rules: { 'lambda-backdoor': { trustedLayerAccounts: ['017000801446'] } } });
    expect((await runOffline(layersEvent([layer('017000801446'), layer('999988887777')]), config)).outcome).toBe('compliant');
    expect((await runOffline(layersEvent([layer('017000801446')]))).outcome).toBe('alerted');
  });

  it('is compliant when no layers are set or all are removed', async () => {
    expect(
      (
        await runOffline(
          withDetail(codeEvent(), { eventName: 'UpdateFunctionConfiguration20150331v2', requestParameters: { functionName: 'orders-export', timeout: 30 } }),
        )
      ).outcome,
    ).toBe('compliant');
    expect((await runOffline(layersEvent([]))).outcome).toBe('compliant');
  });

  it.each([[['not-an-arn']], [[{ arn: 'arn:aws:lambda:eu-west-1:1234:layer:x:1' }]], [[42]]])(
    'refuses layers %j as a parse error naming the entry',
    async (layers) => {
      const record = await runOffline(layersEvent(layers));
      expect(record).toMatchObject({ outcome: 'failed', error: { kind: 'parse' } });
      expect(record.reason).toContain('requestParameters.layers.0');
    },
  );

  it('reads a layer logged as an object holding its ARN', async () => {
    expect((await runOffline(layersEvent([{ arn: layer('444455556666') }]))).outcome).toBe('alerted');
  });
});

describe('lambda-backdoor: code', () => {
  it('alerts LOW on every code update when no deployers are configured, naming the S3 source', async () => {
    const record = await runOffline(codeEvent(), sampleConfig({ rules: {} }));
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'LOW', finding: 'code-updated' });
    expect(record.reason).toContain('s3://example-build-artifacts/orders-export/patched.zip');
  });

  it('alerts MEDIUM on a caller outside the deployers, and is compliant for a deployer (glob)', async () => {
    expect(await runOffline(codeEvent())).toMatchObject({ outcome: 'alerted', severity: 'MEDIUM', finding: 'code-updated-outside-deployers' });
    const glob = sampleConfig({ rules: { 'lambda-backdoor': { deployers: [`arn:aws:iam::${ACCOUNT}:role/dev*`] } } });
    expect((await runOffline(codeEvent(), glob)).outcome).toBe('compliant');
    const { record } = await runSample(lambdaBackdoor, 'compliant.code-deployed-by-ci');
    expect(record.reason).toContain('container image');
  });

  it('does not let a glob character of the pattern match other characters literally wrong', async () => {
    const dotted = sampleConfig({ rules: { 'lambda-backdoor': { deployers: [`arn:aws:iam::${ACCOUNT}:role/develope.`] } } });
    expect((await runOffline(codeEvent(), dotted)).outcome).toBe('alerted');
  });

  it('is compliant for a dry run, names an uploaded zip as not logged, and ignores a failed call', async () => {
    const dry = withDetail(codeEvent(), { requestParameters: { functionName: 'orders-export', dryRun: true } });
    expect((await runOffline(dry)).outcome).toBe('compliant');
    const zip = withDetail(codeEvent(), { requestParameters: { functionName: 'orders-export', publish: true } });
    expect((await runOffline(zip)).reason).toContain('zip file uploaded with the call');
    const { record } = await runSample(lambdaBackdoor, 'ignored.code-update-denied');
    expect(record.outcome).toBe('ignored');
  });

  it('refuses a deployer that is no IAM ARN in the settings', () => {
    expect(() => sampleConfig({ rules: { 'lambda-backdoor': { deployers: ['ci-deployer'] } } })).toThrow('expected an IAM role or user ARN');
  });
});
