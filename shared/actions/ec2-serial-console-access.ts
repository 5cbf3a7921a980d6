/**
 * EC2.DisableSerialConsoleAccess (serial-console-enabled) and, for undo, EC2.EnableSerialConsoleAccess. Serial console
 * access is one setting per account and Region: the calls take no parameters, and the client's Region is the one changed.
 */
import { DisableSerialConsoleAccessCommand, EnableSerialConsoleAccessCommand, GetSerialConsoleAccessStatusCommand, type EC2Client } from '@aws-sdk/client-ec2';
import * as v from 'valibot';
import { regionArg } from '../aws/names.js';
import { awsCommand } from '../shell.js';
import { reverseStepOf, type ActionType, type Reversal, type SelfSignature } from './action.js';

/** The setting's resource: the account, in the step's Region. */
export const SERIAL_CONSOLE_TYPE = 'AWS::EC2::SerialConsoleAccess';

/** No parameters: the account and Region are the caller's. */
export const SerialConsoleParams = v.strictObject({});
export type SerialConsoleParams = v.InferOutput<typeof SerialConsoleParams>;
/** The setting before the write, as read. */
export const SerialConsolePrevious = v.strictObject({ SerialConsoleAccessEnabled: v.boolean() });
export type SerialConsolePrevious = v.InferOutput<typeof SerialConsolePrevious>;

/** Whether serial console access is on in the client's Region. */
export async function serialConsoleAccessOn(ec2: EC2Client): Promise<boolean> {
  const status = await ec2.send(new GetSerialConsoleAccessStatusCommand({}));
  return status.SerialConsoleAccessEnabled === true;
}

/** trailguard only ever disables serial console access: every DisableSerialConsoleAccess by its roles is its own. */
export const disableSerialConsoleAccessSignature = {
  api: 'EC2.DisableSerialConsoleAccess',
  eventName: 'DisableSerialConsoleAccess',
  isOwnWrite: () => true,
} as const satisfies SelfSignature;

async function readBack(ec2: EC2Client, wanted: boolean, region: string) {
  const enabled = await serialConsoleAccessOn(ec2);
  const word = (on: boolean) => (on ? 'enabled' : 'disabled');
  return enabled === wanted
    ? { ok: true, detail: `serial console access reads back ${word(enabled)} in ${region}` }
    : { ok: false, detail: `serial console access is still ${word(enabled)} in ${region}` };
}

/** Undo's write: serial console access on again, as it was before trailguard disabled it. */
export const enableSerialConsoleAccess = {
  api: 'EC2.EnableSerialConsoleAccess',
  iam: 'ec2:EnableSerialConsoleAccess',
  clients: ['ec2'],
  params: SerialConsoleParams,
  previous: SerialConsolePrevious,
  // Enabling is the call serial-console-enabled acts on: it would be disabled again unless exempted.
  retriggers: true,
  async perform(_step, { ec2 }) {
    await ec2.send(new EnableSerialConsoleAccessCommand({}));
  },
  verify: ({ region }, { ec2 }) => readBack(ec2, true, region),
  reverse: (): Reversal => ({
    kind: 'none',
    why: "an operator's undo: to remediate again, remove its exemption and replay the event with --mode live",
  }),
  command: ({ region }) => awsCommand('ec2', 'enable-serial-console-access', { region: regionArg(region) }),
  describe: ({ region }) => `enable EC2 serial console access in ${region}`,
} as const satisfies ActionType<SerialConsoleParams, SerialConsolePrevious, 'ec2'>;

export const disableSerialConsoleAccess = {
  api: 'EC2.DisableSerialConsoleAccess',
  iam: 'ec2:DisableSerialConsoleAccess',
  clients: ['ec2'],
  params: SerialConsoleParams,
  previous: SerialConsolePrevious,
  // Disabling is no event any rule acts on.
  retriggers: false,
  signature: disableSerialConsoleAccessSignature,
  async perform(_step, { ec2 }) {
    await ec2.send(new DisableSerialConsoleAccessCommand({}));
  },
  verify: ({ region }, { ec2 }) => readBack(ec2, false, region),
  reverse({ previous, resource, region }): Reversal {
    if (!previous) return { kind: 'none', why: 'the record does not say whether serial console access was on before: not turned on blindly' };
    if (!previous.SerialConsoleAccessEnabled) return { kind: 'none', why: 'serial console access was already off: nothing was changed' };
    return {
      kind: 'steps',
      steps: [reverseStepOf(enableSerialConsoleAccess, { ...resource, region }, {}, { SerialConsoleAccessEnabled: false })],
    };
  },
  command: ({ region }) => awsCommand('ec2', 'disable-serial-console-access', { region: regionArg(region) }),
  describe: ({ region }) => `disable EC2 serial console access in ${region}`,
} as const satisfies ActionType<SerialConsoleParams, SerialConsolePrevious, 'ec2'>;
