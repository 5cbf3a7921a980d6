import type { EC2Client } from '@aws-sdk/client-ec2';
import * as v from 'valibot';
import { permissionsOf, planOf } from '../../shared/actions/action.js';
import { disableSerialConsoleAccess, SERIAL_CONSOLE_TYPE, serialConsoleAccessOn } from '../../shared/actions/ec2-serial-console-access.js';
import { awsCall } from '../../shared/aws/errors.js';
import { ec2Client } from '../../shared/aws/ec2.js';
import type { Config } from '../../shared/config.js';
import { ParseError } from '../../shared/errors.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { actorLabel, parseWith, type CloudTrailRecord } from '../../shared/events/schema.js';
import {
  alert,
  compliant,
  violation,
  whereOf,
  type Decision,
  type EventContext,
  type Message,
  type ResourceRef,
  type Rule,
  type RunContext,
} from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import pattern from './pattern.json' with { type: 'json' };

const GET = 'EC2.GetSerialConsoleAccessStatus';
const ACTIONS = [disableSerialConsoleAccess];

/** Serial console access turned on for every instance of the account in a Region. */
export const FINDINGS = ['serial-console-enabled'] as const;

/** The setting's one resource: the account (exemptions name it), in the record's Region. */
export interface SerialConsoleFacts {
  readonly resources: readonly [ResourceRef];
}

/** Whether access is on now (dry-run and live). */
export interface SerialConsoleState {
  readonly enabled: boolean;
}

type Clients = { readonly ec2: EC2Client };
type Settings = Config['rules']['serial-console-enabled'];

// EnableSerialConsoleAccess takes no parameters: CloudTrail logs `{"EnableSerialConsoleAccessRequest": ""}` and the
// response `{"EnableSerialConsoleAccessResponse": {"serialConsoleAccessEnabled": true, …}}` (docs/cloudtrail-shapes.md#serial-console).
const Request = v.nullish(v.looseObject({}));

function parse({ record, event }: EventContext): SerialConsoleFacts {
  parseWith(Request, record.requestParameters, 'detail.requestParameters', event.id);
  const account = event.account;
  if (!account) throw new ParseError('detail.recipientAccountId', 'expected the account the setting belongs to', event.id);
  return { resources: [{ type: SERIAL_CONSOLE_TYPE, id: account }] };
}

function decide(facts: SerialConsoleFacts, state: SerialConsoleState | undefined, settings: Settings, context: RunContext): Decision {
  const { region } = whereOf(context);
  const who = context.record ? terminalValue(actorLabel(context.record.actor)) : 'someone';
  // Dry-run and live decide on the setting now: turned off since (by a person, an earlier run), nothing is left to do.
  if (state && !state.enabled) return compliant(`EC2 serial console access is disabled in ${region} now`, facts.resources);
  const resource = facts.resources[0];
  const plan = planOf(disableSerialConsoleAccess, resource, {}, { SerialConsoleAccessEnabled: true });
  const reason = `${who} enabled EC2 serial console access in ${region}: anyone allowed ec2-instance-connect:SendSerialConsoleSSHPublicKey can now reach any instance's console there, outside its security groups and network`;
  if (settings.remediate) return violation(reason, 'HIGH', facts.resources, [plan], 'serial-console-enabled');
  const command = disableSerialConsoleAccess.command({ ...plan, previous: plan.previous, region });
  return alert(`${reason}; not disabled (remediate is off): to disable it, ${command}`, 'HIGH', facts.resources, 'serial-console-enabled');
}

// A failed call changed nothing: compliant, with its error kept in the record (a denied attempt is evidence). A dry-run
// probe (DryRunOperation: it would have succeeded) asked nothing of EC2, and is ignored like any failed call.
function failedCall(record: CloudTrailRecord, _settings: Settings, { event }: EventContext): Decision | undefined {
  if (record.errorCode?.endsWith('DryRunOperation')) return undefined;
  const resources = event.account ? [{ type: SERIAL_CONSOLE_TYPE, id: event.account }] : [];
  return compliant(`the EnableSerialConsoleAccess call failed (${terminalValue(record.errorCode ?? 'error')}): serial console access is as it was`, resources);
}

async function inspect(facts: SerialConsoleFacts, { ec2 }: Clients): Promise<SerialConsoleState> {
  return { enabled: await awsCall(GET, facts.resources[0].id, () => serialConsoleAccessOn(ec2)) };
}

function titleFor(outcome: string, region: string): string {
  switch (outcome) {
    case 'remediated':
      return `EC2 serial console access disabled again in ${region}`;
    case 'would-remediate':
      return `Would disable EC2 serial console access in ${region}`;
    case 'failed':
      return `FAILED to disable EC2 serial console access in ${region}`;
    case 'alerted':
      return `EC2 serial console access enabled in ${region}`;
    default:
      return `EC2 serial console access in ${region}: ${outcome}`;
  }
}

export const serialConsoleEnabled = {
  id: 'serial-console-enabled',
  pattern: pattern as EventPattern,
  permissions: { [GET]: 'ec2:GetSerialConsoleAccessStatus', ...permissionsOf(ACTIONS) },
  actions: ACTIONS,
  settings: (config: Config) => config.rules['serial-console-enabled'],
  clients: (options) => ({ ec2: ec2Client(options) }),
  parse,
  inspect,
  decide,
  failedCall,
  message: (record): Message => ({ title: titleFor(record.outcome, record.region ?? 'its Region'), lines: [] }),
} satisfies Rule<SerialConsoleFacts, SerialConsoleState, Clients, Settings>;
