import * as v from 'valibot';
import { countingRule, type Counted } from '../../shared/alerts/counting.js';
import type { Config } from '../../shared/config.js';
import { ParseError } from '../../shared/errors.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith, type CloudTrailRecord } from '../../shared/events/schema.js';
import { alert, compliant, type Decision, type EventContext } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, placeholder } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

/**
 * Many distinct instances reached by one principal within a window, by SSM Run Command and Session Manager or by EC2
 * Instance Connect key pushes (`remote-session-spread`: lateral movement, mass execution); a SendCommand to every
 * instance (`commands-sent-to-every-instance`); and, without a state store, each such call uncounted.
 */
export const FINDINGS = ['remote-session-spread', 'remote-session-uncounted', 'commands-sent-to-every-instance'] as const;
type Finding = (typeof FINDINGS)[number];

// An EC2 instance (i- and 8 or 17 hex digits) or a hybrid managed node (mi- and 17), compared lowercased.
const NODE_ID = /^(?:i-(?:[0-9a-f]{8}|[0-9a-f]{17})|mi-[0-9a-f]{17})$/;
const NodeId = v.pipe(v.string(), v.toLowerCase(), v.regex(NODE_ID, 'expected an instance or managed node id (i-…, mi-…)'));
// SendCommand names up to 50 instance ids, or up to 5 targets (a key such as InstanceIds, tag:<key>, tag-key,
// resource-groups:Name, each with up to 50 values), camel-cased in the log as the rest of the request.
const Target = v.looseObject({
  key: v.pipe(v.string(), v.minLength(1), v.maxLength(163)),
  values: v.pipe(v.array(v.pipe(v.string(), v.maxLength(256))), v.maxLength(50)),
});
const SendCommandRequest = v.looseObject({
  instanceIds: v.optional(v.nullable(v.pipe(v.array(NodeId), v.maxLength(50)))),
  targets: v.optional(v.nullable(v.pipe(v.array(Target), v.maxLength(5)))),
});
// StartSession's target: an instance or managed node id, or another Session Manager target: counted as named.
const StartSessionRequest = v.looseObject({ target: v.pipe(v.string(), v.minLength(1), v.maxLength(400)) });
const KeyPushRequest = v.looseObject({ instanceId: NodeId });

const FIELD = 'detail.requestParameters';
const clip = (text: string, max: number) => terminalValue(text.length > max ? `${text.slice(0, max)}…` : text);

/** The instances a SendCommand reaches by name, and its other targets each as one item; or the every-instance finding. */
function sendCommandItems(record: CloudTrailRecord, eventId: string | null): Counted {
  const { instanceIds, targets } = parseWith(SendCommandRequest, record.requestParameters, FIELD, eventId);
  const items = [...(instanceIds ?? [])];
  for (const [i, target] of (targets ?? []).entries()) {
    if (target.key.toLowerCase() !== 'instanceids') {
      // A tag or resource group stands for instances the log does not name: one item, named by the target.
      items.push(`${clip(target.key, 163)}=${target.values.map((value) => clip(value, 100)).join(',')} (target)`);
      continue;
    }
    if (target.values.includes('*'))
      return {
        kind: 'decided',
        decision: (resources) =>
          alert(
            'commands sent to every managed instance of the Region (SendCommand targets InstanceIds=*): whatever the document runs, it runs everywhere as root or SYSTEM',
            'HIGH',
            resources,
            'commands-sent-to-every-instance',
          ),
      };
    items.push(...target.values.map((value, j) => parseWith(NodeId, value, `${FIELD}.targets.${i}.values.${j}`, eventId)));
  }
  if (items.length === 0) throw new ParseError(`${FIELD}.instanceIds`, 'is missing, and no targets either: SendCommand names one or the other', eventId);
  return { kind: 'items', items };
}

// AWS-owned documents (the `AWS-` prefix is reserved: no account can create or share one) that patch or manage
// the agent and run nothing a caller chooses. Not AWS-RunShellScript, nor AWS-ConfigureAWSPackage (installs the
// account's own packages), nor AWS-RunPatchBaselineWithHooks (runs hook documents).
const ROUTINE_DOCUMENTS: ReadonlySet<string> = new Set([
  'AWS-RunPatchBaseline',
  'AWS-RunPatchBaselineAssociation',
  'AWS-UpdateSSMAgent',
  'AWS-GatherSoftwareInventory',
]);

function count({ record, event }: EventContext): Counted {
  // Maintenance windows and State Manager patch fleets as ssm.amazonaws.com on a role's behalf: a schedule's fan-out,
  // not a person moving between instances. invokedBy alone proves no schedule (Automation's aws:runCommand, started
  // by whoever holds the key, logs the same), so only AWS's own patching and agent documents are let through.
  const document = (record.requestParameters as { documentName?: unknown } | null | undefined)?.documentName;
  if (record.actor.invokedBy === 'ssm.amazonaws.com' && typeof document === 'string' && ROUTINE_DOCUMENTS.has(document))
    return {
      kind: 'decided',
      decision: (resources) =>
        compliant(`${document} sent by ssm.amazonaws.com on the principal's behalf (a maintenance window or State Manager patching): not counted`, resources),
    };
  switch (record.eventName) {
    case 'SendCommand':
      return sendCommandItems(record, event.id);
    case 'StartSession': {
      const { target } = parseWith(StartSessionRequest, record.requestParameters, FIELD, event.id);
      return { kind: 'items', items: [NODE_ID.test(target.toLowerCase()) ? target.toLowerCase() : target] };
    }
    default:
      // SendSSHPublicKey, SendSerialConsoleSSHPublicKey: one instance, its key good for 60 seconds.
      return { kind: 'items', items: [parseWith(KeyPushRequest, record.requestParameters, FIELD, event.id).instanceId] };
  }
}

const textField = (request: unknown, name: string): string | undefined => {
  const value = typeof request === 'object' && request !== null ? (request as Record<string, unknown>)[name] : undefined;
  return typeof value === 'string' && value !== '' ? clip(value, 128) : typeof value === 'number' ? String(value) : undefined;
};

/**
 * What this call was, for the reader: the SSM document (AWS-RunShellScript is a shell, AWS-RunPatchBaseline
 * patching), the OS user a key was pushed for. Never the command text (CloudTrail logs SendCommand's parameters as
 * HIDDEN_DUE_TO_SECURITY_REASONS) nor the key.
 */
export function callOf(record: CloudTrailRecord): string {
  const request = record.requestParameters;
  const document = textField(request, 'documentName');
  switch (record.eventName) {
    case 'SendCommand':
      return `this call: SendCommand of ${document ?? 'an unnamed document'} (the commands are not logged: ssm list-commands shows them)`;
    case 'StartSession':
      return `this call: StartSession${document ? ` with ${document}` : ', an interactive shell'}`;
    case 'SendSSHPublicKey':
      return `this call: SendSSHPublicKey for OS user ${textField(request, 'instanceOSUser') ?? '(not logged)'}, the key good for 60 s`;
    default:
      return `this call: SendSerialConsoleSSHPublicKey, serial port ${textField(request, 'serialPort') ?? '0'}, the key good for 60 s`;
  }
}

const withCall = (decision: Decision, record: CloudTrailRecord | undefined): Decision =>
  record && (decision.kind === 'alert' || decision.kind === 'compliant') ? { ...decision, reason: `${decision.reason}; ${callOf(record)}` } : decision;

const counted = countingRule({
  id: 'remote-session-spread',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => config.rules['remote-session-spread'],
  count,
  noun: 'instances reached (SSM commands, sessions, Instance Connect keys)',
  severity: 'HIGH',
  title: (finding: Finding | undefined) =>
    finding === 'commands-sent-to-every-instance'
      ? 'Commands sent to every instance'
      : finding === 'remote-session-spread'
        ? 'Many instances reached by one principal'
        : 'Remote command or session on an instance',
  checkNext: (finding, principal) => [
    `what else ${terminalValue(principal)} did: CloudTrail Event history, filtered by its access key or user name`,
    `the commands it ran, with their text (${awsCommand('ssm', 'list-commands')}), and their output per instance (${awsCommand('ssm', 'list-command-invocations', { commandId: placeholder('<command-id>'), details: true })})`,
    `its sessions still open (${awsCommand('ssm', 'describe-sessions', { state: 'Active' })}), and end them (${awsCommand('ssm', 'terminate-session', { sessionId: placeholder('<session-id>') })})`,
    ...(finding === 'remote-session-uncounted'
      ? []
      : ['if it is automation that works on many instances on purpose (patching, a CI role, a fleet tool), exempt its role by ARN (never by name alone)']),
  ],
});

/** N distinct instances reached by one principal within a window (default 10 in 30 min), once per window; any command to every instance. */
export const remoteSessionSpread: typeof counted = {
  ...counted,
  decide: (facts, state, settings, run) => withCall(counted.decide(facts, state, settings, run), run.record),
};
