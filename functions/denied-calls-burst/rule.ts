import { countingRule, type Counted } from '../../shared/alerts/counting.js';
import type { Config } from '../../shared/config.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { alert, compliant, type EventContext } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, placeholder } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

/** Many distinct calls denied to one principal within a window (`denied-calls-burst`); without a state store, each uncounted. */
export const FINDINGS = ['denied-calls-burst', 'denied-call-uncounted', 'accelerated-launch-denied'] as const;
type Finding = (typeof FINDINGS)[number];

// Instance families with GPUs or other accelerators: a stolen key's first try is often a mining or model fleet.
const ACCELERATED = /^(p\d|g\d|gr\d|inf\d|trn\d|dl\d|vt\d|f\d)[a-z0-9-]*\.[a-z0-9]+$/i;

/**
 * A denied call as counted: the service and action (`ec2:RunInstances`), so a misconfigured job retrying one call
 * stays one item while a probe through many APIs (what can this key do?) adds one per API. The calls an intruder
 * makes first are named: RunInstances of GPU or accelerated types, GetPasswordData (a Windows instance's password).
 */
export function deniedCallOf(eventSource: string, eventName: string, request: unknown): string {
  const service = eventSource.replace(/\.amazonaws\.com$/, '');
  const call = `${terminalValue(service)}:${terminalValue(eventName)}`;
  if (eventName === 'GetPasswordData') return `${call} (a Windows instance's administrator password)`;
  const type = typeof request === 'object' && request !== null ? (request as Record<string, unknown>).instanceType : undefined;
  if (eventName === 'RunInstances' && typeof type === 'string' && ACCELERATED.test(type)) return `${call} (${terminalValue(type)}: GPU or accelerated)`;
  return call;
}

function count({ record }: EventContext): Counted {
  // A service acting with the principal's credentials (CloudFormation deploying a stack, the console's backend) makes
  // the calls its template or page needs: a deploy short of permissions is a misconfiguration, not a probe.
  const by = record.actor.invokedBy;
  if (by !== undefined)
    return {
      kind: 'decided',
      decision: (resources) =>
        compliant(`denied while ${terminalValue(by)} called on the principal's behalf: a service's calls, not counted as a probe`, resources),
    };
  const item = deniedCallOf(record.eventSource, record.eventName, record.requestParameters);
  // A refused launch of GPU or accelerated instances is told on its own: it is a stolen key's first try (a mining or
  // model fleet on the account's bill), and a person who picked such a type by mistake is quickly asked.
  if (item.endsWith('GPU or accelerated)'))
    return {
      kind: 'decided',
      decision: (resources) =>
        alert(
          `a launch of GPU or accelerated instances was refused (${item}): the first thing done with stolen keys is often a mining fleet`,
          'MEDIUM',
          resources,
          'accelerated-launch-denied',
        ),
    };
  return { kind: 'items', items: [item] };
}

/** N distinct API calls denied to one principal within a window (default 10 in 10 min), once per window. */
export const deniedCallsBurst = countingRule({
  id: 'denied-calls-burst',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => config.rules['denied-calls-burst'],
  count,
  failedCalls: true,
  noun: 'calls denied',
  severity: 'HIGH',
  title: (finding: Finding | undefined) =>
    finding === 'denied-calls-burst'
      ? 'Many distinct calls denied to one principal'
      : finding === 'accelerated-launch-denied'
        ? 'GPU or accelerated instance launch refused'
        : 'Call denied',
  checkNext: (_finding, principal) => [
    `whose credentials these are and where ${terminalValue(principal)} signed in from (CloudTrail Event history by access key id: source addresses, user agents)`,
    'what it tried: a probe walks through many services it has no right to (enumerate-iam, pacu); a misconfigured job repeats one call',
    `if the key is not in use where it should be, deactivate it (${awsCommand('iam', 'update-access-key', { userName: placeholder('<user>'), accessKeyId: placeholder('<key-id>'), status: 'Inactive' })}), or revoke the sessions of a role`,
  ],
});
