import * as v from 'valibot';
import type { Config } from '../../shared/config.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { isInstanceId, regionArg } from '../../shared/aws/names.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { actorLabel, parseWith } from '../../shared/events/schema.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { alert, compliant, type Decision, type EventContext, type ResourceRef } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, checked, noCommand } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

const INSTANCE = 'AWS::EC2::Instance';
const InstanceId = v.pipe(v.string(), v.minLength(1), v.maxLength(64));
// CloudTrail logs the user data form as `{instanceId, userData: "<sensitiveDataRemoved>"}` (the script is always
// redacted, docs/cloudtrail-shapes.md#modify-instance-attribute); the `attribute`/`value` form of the same API names
// the attribute instead. Every other attribute (instance type, security groups, termination protection…) is not this rule's.
const Request = v.looseObject({ instanceId: InstanceId, userData: v.optional(v.unknown()), attribute: v.optional(v.unknown()) });

interface UserDataFacts {
  readonly instance: string;
  /** False when the call changed another attribute (an event matched some other way, e.g. in a replay). */
  readonly userData: boolean;
  readonly resources: readonly [ResourceRef];
}

type Settings = Config['rules']['instance-user-data-changed'];

/** What this rule reports: an instance's user data replaced. */
export const FINDINGS = ['instance-user-data-changed'] as const;
type Finding = (typeof FINDINGS)[number];

const shown = (text: string): string => terminalValue(text.length > 100 ? `${text.slice(0, 100)}…` : text);

function parse({ record, event }: EventContext): UserDataFacts {
  const request = parseWith(Request, record.requestParameters, 'detail.requestParameters', event.id);
  return {
    instance: request.instanceId,
    userData: request.userData !== undefined || request.attribute === 'userData',
    resources: [{ type: INSTANCE, id: request.instanceId }],
  };
}

function decide(facts: UserDataFacts, _state: undefined, _settings: Settings, { record }: EventContext): Decision {
  if (!facts.userData) return compliant('the call changed another attribute of the instance, not its user data', facts.resources);
  return alert(
    `the user data of instance ${shown(facts.instance)} was replaced by ${shown(actorLabel(record.actor))}: it runs as root at the instance's next start (CloudTrail never logs the script itself)`,
    'HIGH',
    facts.resources,
    'instance-user-data-changed',
  );
}

const titleOf = (record: RemediationRecord): string => `Instance user data changed: ${record.resources[0]?.id ?? 'unknown'}`;

function checkNext(record: RemediationRecord): readonly string[] {
  const region = regionArg(record.region);
  const instance = checked(record.resources[0]?.id, 'instance id', isInstanceId);
  // The lookup attribute is built from the id only once it is a valid instance id (and is quoted whole).
  const history =
    'valid' in instance
      ? awsCommand('cloudtrail', 'lookup-events', { lookupAttributes: `AttributeKey=ResourceName,AttributeValue=${instance.valid}`, region })
      : noCommand(instance.invalid);
  const read = awsCommand('ec2', 'describe-instance-attribute', {
    instanceId: instance,
    attribute: 'userData',
    query: 'UserData.Value',
    output: 'text',
    region,
  });
  return [
    `the script it now holds, before the instance starts again: ${read.startsWith('aws ') ? `${read} | base64 --decode` : read}`,
    `who changed it (the actor below) and whether it was planned: user data can only be replaced while the instance is stopped, so its StopInstances and next StartInstances are in the same history: ${history}`,
    'if unintended: keep the instance stopped, put the previous user data back (from your launch template or pipeline) and rotate the credentials that made the call',
  ];
}

/** An EC2 instance's user data replaced: a script that runs as root at the next start. */
export const instanceUserDataChanged = alertRule<UserDataFacts, undefined, Record<string, never>, Settings, Finding>({
  id: 'instance-user-data-changed',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => config.rules['instance-user-data-changed'],
  parse,
  decide,
  title: titleOf,
  checkNext,
});
