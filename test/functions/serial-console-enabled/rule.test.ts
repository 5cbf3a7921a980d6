// moto has no serial console API (GetSerialConsoleAccessStatus, Enable/DisableSerialConsoleAccess): these tests stub EC2
// with aws-sdk-client-mock instead of an emulator run.
import { DisableSerialConsoleAccessCommand, EC2Client, EnableSerialConsoleAccessCommand, GetSerialConsoleAccessStatusCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serialConsoleEnabled } from '../../../functions/serial-console-enabled/rule.js';
import { stepOfReverse, type SelfSignature } from '../../../shared/actions/action.js';
import { disableSerialConsoleAccessSignature } from '../../../shared/actions/ec2-serial-console-access.js';
import { ACTION_TYPES } from '../../../shared/actions/registry.js';
import { reversalOf } from '../../../shared/actions/reversal.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const ec2 = mockClient(EC2Client);
const status = (on: boolean) => ({ SerialConsoleAccessEnabled: on, ManagedBy: 'account' as const });

beforeEach(() => {
  ec2.reset();
  ec2.rejects(new Error('unexpected EC2 call'));
});
afterEach(() => ec2.reset());

const SAMPLE = 'would-remediate.serial-console-enabled';
const sample = () => loadSample(serialConsoleEnabled.id, SAMPLE);
const alertByDefault = () => sampleConfig({ rules: { 'serial-console-enabled': {} } });
const runLive = (config = sampleConfig()) => run(serialConsoleEnabled, sample(), capturingDeps({ mode: 'live', config }));

describe('serial-console-enabled offline', () => {
  it('plans to disable it again, HIGH, on the account in the record Region (remediate on in the sample config)', async () => {
    const { record } = await runSample(serialConsoleEnabled, SAMPLE);
    expect(record).toMatchObject({
      outcome: 'would-remediate',
      severity: 'HIGH',
      region: 'eu-west-1',
      resources: [{ type: 'AWS::EC2::SerialConsoleAccess', id: '111122223333' }],
      actions: [{ api: 'EC2.DisableSerialConsoleAccess', params: {}, previous: { SerialConsoleAccessEnabled: true } }],
    });
  });

  it('alerts by default with the exact command, Region quoted', async () => {
    const record = await run(serialConsoleEnabled, sample(), capturingDeps({ config: alertByDefault() }));
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', actions: [] });
    expect(record.reason).toContain("aws ec2 disable-serial-console-access --region 'eu-west-1'");
  });

  it('keeps a denied attempt as compliant (evidence), ignores a dry-run probe, exempts the lab account', async () => {
    expect((await runSample(serialConsoleEnabled, 'compliant.serial-console-denied')).record).toMatchObject({
      outcome: 'compliant',
      reason: expect.stringContaining('UnauthorizedOperation'),
    });
    expect((await runSample(serialConsoleEnabled, 'ignored.serial-console-dry-run')).record.outcome).toBe('ignored');
    expect((await runSample(serialConsoleEnabled, 'exempt.serial-console-lab-account')).record.outcome).toBe('exempt');
  });

  it('refuses request parameters that are not an object as a parse error, never a call', async () => {
    const record = await run(serialConsoleEnabled, withDetail(sample(), { requestParameters: 'x' }), capturingDeps({ mode: 'live', config: sampleConfig() }));
    expect(record).toMatchObject({ outcome: 'failed', error: { kind: 'parse' } });
    expect(ec2.calls()).toHaveLength(0);
  });

  it("knows trailguard's own DisableSerialConsoleAccess (the loop guard)", () => {
    const signature: SelfSignature = disableSerialConsoleAccessSignature;
    expect(signature.eventName).toBe('DisableSerialConsoleAccess');
    expect(signature.isOwnWrite({}, { enforces: false, config: sampleConfig() })).toBe(true);
  });
});

describe('serial-console-enabled live', () => {
  it('disables it, reads it back off, and the reversal enables it again (read back on)', async () => {
    ec2.on(GetSerialConsoleAccessStatusCommand).resolvesOnce(status(true)).resolvesOnce(status(false)).resolves(status(true));
    ec2.on(DisableSerialConsoleAccessCommand).resolves({ SerialConsoleAccessEnabled: false });
    ec2.on(EnableSerialConsoleAccessCommand).resolves({ SerialConsoleAccessEnabled: true });
    const record = await runLive();
    expect(record).toMatchObject({ outcome: 'remediated', actions: [{ status: 'done', verification: { ok: true } }] });
    expect(ec2.commandCalls(DisableSerialConsoleAccessCommand)).toHaveLength(1);

    const action = record.actions[0];
    if (!action) throw new Error('no action');
    const reversal = reversalOf(ACTION_TYPES, record, action);
    if (reversal.kind !== 'steps') throw new Error(`expected steps, got ${reversal.kind}`);
    const [step] = reversal.steps;
    if (!step) throw new Error('no step');
    expect(step.type.command(stepOfReverse(step))).toBe("aws ec2 enable-serial-console-access --region 'eu-west-1'");
    const planned = stepOfReverse(step);
    await step.type.perform(planned, { ec2: new EC2Client({ region: 'eu-west-1' }) } as never);
    expect(await step.type.verify(planned, { ec2: new EC2Client({ region: 'eu-west-1' }) } as never)).toMatchObject({ ok: true });
    expect(ec2.commandCalls(EnableSerialConsoleAccessCommand)).toHaveLength(1);
  });

  it('fails when it reads back still on', async () => {
    ec2.on(GetSerialConsoleAccessStatusCommand).resolves(status(true));
    ec2.on(DisableSerialConsoleAccessCommand).resolves({ SerialConsoleAccessEnabled: false });
    expect((await runLive()).outcome).toBe('failed');
  });

  it('is compliant when it is off again already, with no write', async () => {
    ec2.on(GetSerialConsoleAccessStatusCommand).resolves(status(false));
    expect((await runLive()).outcome).toBe('compliant');
    expect(ec2.commandCalls(DisableSerialConsoleAccessCommand)).toHaveLength(0);
  });

  it('reads but never writes when remediate is off', async () => {
    ec2.on(GetSerialConsoleAccessStatusCommand).resolves(status(true));
    expect((await runLive(alertByDefault())).outcome).toBe('alerted');
    expect(ec2.commandCalls(DisableSerialConsoleAccessCommand)).toHaveLength(0);
  });
});
