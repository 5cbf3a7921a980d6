import { DisableSerialConsoleAccessCommand, EC2Client, GetSerialConsoleAccessStatusCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stepOf, stepOfReverse, type Step } from '../../../shared/actions/action.js';
import {
  disableSerialConsoleAccess,
  enableSerialConsoleAccess,
  type SerialConsoleParams,
  type SerialConsolePrevious,
} from '../../../shared/actions/ec2-serial-console-access.js';

const ec2 = mockClient(EC2Client);
const clients = { ec2: new EC2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }) };
const RESOURCE = { type: 'AWS::EC2::SerialConsoleAccess', id: '111122223333' };
const stepFor = (params: unknown, previous?: unknown, region = 'eu-west-1') =>
  stepOf(disableSerialConsoleAccess, { api: disableSerialConsoleAccess.api, resource: RESOURCE, params, previous }, region) as Step<
    SerialConsoleParams,
    SerialConsolePrevious
  >;

beforeEach(() => {
  ec2.reset();
  ec2.rejects(new Error('unexpected EC2 call'));
});
afterEach(() => ec2.reset());

describe('EC2.DisableSerialConsoleAccess', () => {
  it('takes no parameters: anything else is refused before a call', () => {
    expect(() => stepFor({ DryRun: false })).toThrow(expect.objectContaining({ code: 'InvalidActionParams' }));
  });

  it('disables and reads back off', async () => {
    ec2.on(DisableSerialConsoleAccessCommand).resolves({ SerialConsoleAccessEnabled: false });
    ec2.on(GetSerialConsoleAccessStatusCommand).resolves({ SerialConsoleAccessEnabled: false });
    const step = stepFor({});
    await disableSerialConsoleAccess.perform(step, clients);
    expect(await disableSerialConsoleAccess.verify(step, clients)).toMatchObject({ ok: true });
  });

  it('reverses to an enable only when it was on before, and the command names the Region', () => {
    expect(disableSerialConsoleAccess.reverse(stepFor({}, undefined))).toMatchObject({ kind: 'none' });
    expect(disableSerialConsoleAccess.reverse(stepFor({}, { SerialConsoleAccessEnabled: false }))).toMatchObject({ kind: 'none' });
    const reversal = disableSerialConsoleAccess.reverse(stepFor({}, { SerialConsoleAccessEnabled: true }));
    if (reversal.kind !== 'steps') throw new Error('expected steps');
    const [step] = reversal.steps;
    if (!step) throw new Error('no step');
    expect(step.type).toBe(enableSerialConsoleAccess);
    expect(step.type.command(stepOfReverse(step))).toBe("aws ec2 enable-serial-console-access --region 'eu-west-1'");
    // Undo's enable is the call the rule acts on: undo asks for the exemption first.
    expect(enableSerialConsoleAccess.retriggers).toBe(true);
  });

  it('refuses a Region that is no Region in its command', () => {
    expect(disableSerialConsoleAccess.command(stepFor({}, undefined, "eu-west-1'; id"))).toMatch(/^no command/);
  });
});
