import type { HttpRequest } from '@smithy/core/protocols';
import { describe, expect, it } from 'vitest';
import { configStoreChange, FINDINGS } from '../../../functions/config-store-change/rule.js';
import { accountAccess, memberActionsOf } from '../../../shared/aws/sts.js';
import { AwsCallError } from '../../../shared/errors.js';
import { parseEnvelope, toEnvelopeJson } from '../../../shared/events/schema.js';
import { ssmReader, type ParameterGetter, type RequestHandler, type StoredParameter } from '../../../shared/live-config/ssm-reader.js';
import type { Decision, EventContext } from '../../../shared/rule.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';
import { run } from '../../../shared/runner/run.js';

const PREFIX = '/trailguard/prod';
const IN_ALL = `${PREFIX}/exemptions/all/_-684888c0`;
const FOR_RULE = `${PREFIX}/exemptions/public-bucket/static-site-assets-44d27268`;
const RULES_NAME = `${PREFIX}/rules`;

/** A store double: the values it holds by name, and the names it was asked for. */
function store(values: Readonly<Record<string, string | Error>>, version = 1): ParameterGetter & { readonly asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async getParameter(name) {
      asked.push(name);
      const value = values[name];
      if (value instanceof Error) throw value;
      return value === undefined ? undefined : ({ name, value, version } satisfies StoredParameter);
    },
  };
}

/** Runs parse → inspect (with the double, as dry-run and live do) → decide, on a sample or a patched one. */
async function decideLive(sample: unknown, ssm: ParameterGetter, config = sampleConfig({ parameterPrefix: PREFIX })): Promise<Decision> {
  const event = parseEnvelope(toEnvelopeJson(sample));
  const context: EventContext = { event, record: event.detail };
  const settings = configStoreChange.settings(config);
  const facts = configStoreChange.parse(context);
  const state = await configStoreChange.inspect(facts, { ssm }, context, settings);
  return configStoreChange.decide(facts, state, settings, context);
}

const sample = (name: string) => loadSample('config-store-change', name);
const exemption = (resource: string) => JSON.stringify({ resource, reason: 'static site', addedBy: 'arn:aws:iam::111122223333:user/alice' });

describe('config-store-change offline (from the event alone)', () => {
  const KINDS = [
    ['remediation-off-broadly', 'alerted.all-exemption-added', 'HIGH'],
    ['exemption-changed', 'alerted.exemption-added-for-rule', 'MEDIUM'],
    ['config-removed', 'alerted.exemption-removed', 'LOW'],
    ['config-removed', 'alerted.delete-parameters-batch', 'LOW'],
    ['rules-changed', 'alerted.rules-replaced', 'MEDIUM'],
    ['config-change-denied', 'alerted.exemption-add-denied', 'MEDIUM'],
  ] as const;

  it.each(KINDS)('sets %s on %s', async (finding, name, severity) => {
    const { record, deps } = await runSample(configStoreChange, name);
    expect(record).toMatchObject({ outcome: 'alerted', severity, finding });
    expect(record.reason).toContain('arn:aws:sts::111122223333:assumed-role/platform-operator/alice');
    expect(deps.published).toHaveLength(1);
  });

  it('has a test for every finding it can set from the event or a read', () => {
    const tested = new Set<string>([...KINDS.map(([finding]) => finding), 'config-labelled', 'unread-parameter-changed']);
    expect(tested).toEqual(new Set(FINDINGS));
  });

  it('names only what DeleteParameters deleted, not the names it did not find', async () => {
    const { record } = await runSample(configStoreChange, 'alerted.delete-parameters-batch');
    expect(record.resources.map((r) => r.id)).toEqual([`${PREFIX}/exemptions/all/legacy-build-host-de2741ba`, `${PREFIX}/exemptions/all/old-bastion-9a5a07ab`]);
    expect(record.reason).toContain('remediation applies to its resource again');
  });

  it('tells a failed write that was not denied as compliant, and leaves out names of no stage', async () => {
    expect((await runSample(configStoreChange, 'compliant.exemption-already-exists')).record).toMatchObject({ outcome: 'compliant', finding: null });
    expect((await runSample(configStoreChange, 'ignored.not-a-stage-parameter')).record.outcome).toBe('ignored');
    expect((await runSample(configStoreChange, 'ignored.another-application-parameter')).record.outcome).toBe('ignored');
  });

  it('with parameterPrefix set, ignores another stage and alerts on its own', async () => {
    const config = sampleConfig({ parameterPrefix: '/trailguard/dev' });
    const other = await run(configStoreChange, sample('alerted.all-exemption-added'), capturingDeps({ config }));
    expect(other).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining("not this stage's parameter store (/trailguard/dev)") });
    const own = withDetail(sample('alerted.all-exemption-added'), { requestParameters: { name: '/trailguard/dev/exemptions/all/_-684888c0', type: 'String' } });
    expect((await run(configStoreChange, own, capturingDeps({ config }))).severity).toBe('HIGH');
  });

  it("in organisation mode, ignores a member account's /trailguard/ parameters", async () => {
    const config = sampleConfig({ organization: { organizationId: 'o-a1b2c3d4e5', centralAccountId: '444455556666' } });
    expect((await run(configStoreChange, sample('alerted.all-exemption-added'), capturingDeps({ config }))).outcome).toBe('ignored');
  });

  it('tells a label (the functions read the newest version) and a nested name (never read) as LOW', async () => {
    const label = withDetail(sample('alerted.all-exemption-added'), {
      eventName: 'LabelParameterVersion',
      requestParameters: { name: IN_ALL, parameterVersion: 1, labels: ['reviewed'] },
      responseElements: { invalidLabels: [], parameterVersion: 1 },
    });
    expect(await run(configStoreChange, label, capturingDeps())).toMatchObject({ outcome: 'alerted', severity: 'LOW', finding: 'config-labelled' });
    const nested = withDetail(sample('alerted.all-exemption-added'), { requestParameters: { name: `${PREFIX}/exemptions/all/team-a/x` } });
    expect(await run(configStoreChange, nested, capturingDeps())).toMatchObject({
      severity: 'LOW',
      finding: 'unread-parameter-changed',
      reason: expect.stringContaining('non-recursively'),
    });
  });

  it('alerts LOW on the deployment writing the rules, and on nothing by trailguard itself', async () => {
    const deployed = withDetail(sample('alerted.rules-replaced'), {
      sourceIPAddress: 'cloudformation.amazonaws.com',
      userAgent: 'cloudformation.amazonaws.com',
    });
    expect(await run(configStoreChange, deployed, capturingDeps())).toMatchObject({
      severity: 'LOW',
      finding: 'rules-changed',
      reason: expect.stringContaining('by a CloudFormation deployment'),
    });
  });

  it('refuses a request without a valid parameter name as a parse failure, not a guess', async () => {
    const bad = withDetail(sample('alerted.exemption-added-for-rule'), { requestParameters: { name: '/trailguard/prod/rules\u001b[2J' } });
    const deps = capturingDeps();
    const record = await run(configStoreChange, bad, deps);
    expect(record).toMatchObject({
      outcome: 'failed',
      error: { kind: 'parse' },
      reason: expect.stringContaining('detail.requestParameters.name: expected a parameter path'),
    });
    expect(record.reason).not.toContain('\u001b');
  });
});

describe('config-store-change with the value read (dry-run, live)', () => {
  it('raises a per-rule exemption with a broad glob to HIGH and says why', async () => {
    const ssm = store({ [FOR_RULE]: exemption('s*') });
    const decision = await decideLive(sample('alerted.exemption-added-for-rule'), ssm);
    expect(decision).toMatchObject({ kind: 'alert', severity: 'HIGH', finding: 'remediation-off-broadly' });
    expect(decision.reason).toContain('only 1 literal character');
    expect(ssm.asked).toEqual([FOR_RULE]);
  });

  it('keeps a narrow per-rule exemption MEDIUM and shows it made safe', async () => {
    const decision = await decideLive(sample('alerted.exemption-added-for-rule'), store({ [FOR_RULE]: exemption('static-site-\u001b]0;pwned\u0007assets') }));
    expect(decision).toMatchObject({ kind: 'alert', severity: 'MEDIUM', finding: 'exemption-changed' });
    expect(decision.reason).toContain('static-site-\\u001b]0;pwned\\u0007assets');
    expect(decision.reason).not.toMatch(/\p{Cc}/u);
  });

  it('keeps an exemption in all HIGH even when its resource is a single name', async () => {
    const decision = await decideLive(sample('alerted.all-exemption-added'), store({ [IN_ALL]: exemption('build-host-01') }));
    expect(decision).toMatchObject({ severity: 'HIGH', finding: 'remediation-off-broadly', reason: expect.stringContaining('every rule') });
  });

  it('raises an exemption from this rule itself to HIGH: it would silence the next change', async () => {
    const own = `${PREFIX}/exemptions/config-store-change/x-1a2b3c4d`;
    const event = withDetail(sample('alerted.exemption-added-for-rule'), { requestParameters: { name: own, type: 'String' } });
    const decision = await decideLive(event, store({ [own]: exemption('/trailguard/prod/exemptions/all/x-1a2b3c4d') }));
    expect(decision).toMatchObject({ severity: 'HIGH', reason: expect.stringContaining('silences this alert') });
  });

  it('says when the value is no valid exemption: the functions do not apply it', async () => {
    const decision = await decideLive(sample('alerted.exemption-added-for-rule'), store({ [FOR_RULE]: '{"resource":"*","expires":"2099-99-99"' }));
    expect(decision).toMatchObject({ severity: 'MEDIUM', reason: expect.stringContaining('no valid exemption') });
  });

  it('names the rules a rules change turns off (HIGH), and says when none is (MEDIUM)', async () => {
    const off = await decideLive(
      sample('alerted.rules-replaced'),
      store({ [RULES_NAME]: JSON.stringify({ 'public-bucket': { enabled: false }, 'kms-key-deletion': { enabled: false } }) }, 4),
    );
    expect(off).toMatchObject({ severity: 'HIGH', finding: 'remediation-off-broadly' });
    expect(off.reason).toContain('turn off public-bucket, kms-key-deletion');
    const on = await decideLive(sample('alerted.rules-replaced'), store({ [RULES_NAME]: JSON.stringify({ 'open-security-group': { enabled: true } }) }, 4));
    expect(on).toMatchObject({ severity: 'MEDIUM', finding: 'rules-changed', reason: expect.stringContaining('every rule stays enabled') });
  });

  it('says the value shown is a later version when the parameter changed again', async () => {
    const decision = await decideLive(sample('alerted.rules-replaced'), store({ [RULES_NAME]: '{}' }, 6));
    expect(decision.reason).toContain('now at version 6, changed again since');
  });

  it('keeps the alert when the read is denied or the parameter is gone, and rethrows a transient failure', async () => {
    const denied = new AwsCallError('SSM.GetParameter', IN_ALL, 'denied', 'AccessDeniedException');
    const deniedDecision = await decideLive(sample('alerted.all-exemption-added'), store({ [IN_ALL]: denied }));
    expect(deniedDecision).toMatchObject({ severity: 'HIGH', reason: expect.stringContaining('needs ssm:GetParameter') });
    const gone = await decideLive(sample('alerted.exemption-added-for-rule'), store({}));
    expect(gone).toMatchObject({ severity: 'MEDIUM', reason: expect.stringContaining('no longer exists') });
    const throttled = new AwsCallError('SSM.GetParameter', IN_ALL, 'transient', 'ThrottlingException');
    await expect(decideLive(sample('alerted.all-exemption-added'), store({ [IN_ALL]: throttled }))).rejects.toBe(throttled);
  });

  it('reads nothing for a deletion, and nothing of another stage', async () => {
    const ssm = store({});
    expect(await decideLive(sample('alerted.delete-parameters-batch'), ssm)).toMatchObject({ severity: 'LOW' });
    const other = await decideLive(sample('alerted.all-exemption-added'), ssm, sampleConfig({ parameterPrefix: '/trailguard/dev' }));
    expect(other.kind).toBe('not-applicable');
    expect(ssm.asked).toEqual([]);
  });

  it('declares exactly the read it makes, in its own account only: no member role holds it or is assumed for it', () => {
    expect(configStoreChange.permissions).toEqual({ 'SSM.GetParameter': 'ssm:GetParameter' });
    expect(memberActionsOf(configStoreChange)).toEqual([]);
    const org = { organizationId: 'o-a1b2c3d4e5', centralAccountId: '111122223333', memberRoleName: 'trailguard-remediation' };
    expect(accountAccess(org, '444455556666', configStoreChange, { region: 'eu-west-1', endpoint: undefined })).toBeUndefined();
  });
});

describe("the reader's GetParameter", () => {
  const answering = (status: number, body: unknown): RequestHandler & { readonly sent: HttpRequest[] } => {
    const sent: HttpRequest[] = [];
    return {
      sent,
      async handle(request) {
        sent.push(request);
        return { response: { statusCode: status, headers: {}, body: JSON.stringify(body) } as never };
      },
    };
  };
  const reader = (handler: RequestHandler) =>
    ssmReader({ region: 'eu-west-1', credentials: async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }), handler, sleep: async () => {} });

  it('asks for one name without decryption and answers its value and version', async () => {
    const handler = answering(200, { Parameter: { Name: RULES_NAME, Value: '{}', Version: 3, Type: 'String' } });
    expect(await reader(handler).getParameter(RULES_NAME)).toEqual({ name: RULES_NAME, value: '{}', version: 3 });
    expect(handler.sent[0]?.headers['x-amz-target']).toBe('AmazonSSM.GetParameter');
    expect(JSON.parse(String(handler.sent[0]?.body))).toEqual({ Name: RULES_NAME, WithDecryption: false });
  });

  it('answers undefined for ParameterNotFound and throws a denied read as denied', async () => {
    expect(await reader(answering(400, { __type: 'ParameterNotFound', message: '' })).getParameter(RULES_NAME)).toBeUndefined();
    await expect(reader(answering(400, { __type: 'AccessDeniedException', message: 'no' })).getParameter(RULES_NAME)).rejects.toMatchObject({ kind: 'denied' });
  });
});
