import * as v from 'valibot';
import { countingRule, type Counted } from '../../shared/alerts/counting.js';
import { isInstanceId } from '../../shared/aws/names.js';
import type { Config } from '../../shared/config.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import { compliant, type EventContext } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, placeholder } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

/**
 * The user data of many distinct instances read by one principal within a window (`user-data-read-burst`): user data
 * often holds bootstrap secrets, and an intruder downloads it from every instance; without a state store, each read
 * uncounted.
 */
export const FINDINGS = ['user-data-read-burst', 'user-data-read-uncounted'] as const;
type Finding = (typeof FINDINGS)[number];

// Logged as `{instanceId, attribute}` (the EC2 query API's InstanceId and Attribute, camel-cased). Ids are compared
// lowercased: EC2 ids are lowercase hex, so `i-0ABC…` and `i-0abc…` name one instance.
const InstanceId = v.pipe(v.string(), v.toLowerCase(), v.check(isInstanceId, 'expected an EC2 instance id (i- and 8 or 17 hex digits)'));
const Request = v.looseObject({ instanceId: InstanceId, attribute: v.string() });
// GetLaunchTemplateData answers with the instance's whole configuration, UserData included: the same script by
// another call. Newer EC2 calls are logged wrapped in `<Call>Request` with the API's own member names; no recorded
// event was found, so both that and the flat camel-cased form are read (docs/cloudtrail-shapes.md).
const WrappedLaunchTemplateDataRequest = v.looseObject({ GetLaunchTemplateDataRequest: v.looseObject({ InstanceId }) });
const FlatLaunchTemplateDataRequest = v.looseObject({ instanceId: InstanceId });

/** The instance whose user data a GetLaunchTemplateData call returned, in either logged form. */
function launchTemplateDataInstance(request: unknown, eventId: string | null): string {
  const wrapped = typeof request === 'object' && request !== null && 'GetLaunchTemplateDataRequest' in request;
  return wrapped
    ? parseWith(WrappedLaunchTemplateDataRequest, request, 'detail.requestParameters', eventId).GetLaunchTemplateDataRequest.InstanceId
    : parseWith(FlatLaunchTemplateDataRequest, request, 'detail.requestParameters', eventId).instanceId;
}

// CloudFormation reads a stack's instances for the principal and hands the script to no one. Other services do not
// earn that: SSM Automation's aws:executeAwsApi runs the read with the caller's credentials (invokedBy
// ssm.amazonaws.com) and returns the user data in the execution's outputs.
const SERVICES_THAT_KEEP_THE_SCRIPT: ReadonlySet<string> = new Set(['cloudformation.amazonaws.com']);

function count({ record, event }: EventContext): Counted {
  const by = record.actor.invokedBy;
  if (by !== undefined && SERVICES_THAT_KEEP_THE_SCRIPT.has(by))
    return {
      kind: 'decided',
      decision: (resources) => compliant(`read by ${terminalValue(by)} on the principal's behalf: a service's read, not counted`, resources),
    };
  if (record.eventName === 'GetLaunchTemplateData') return { kind: 'items', items: [launchTemplateDataInstance(record.requestParameters, event.id)] };
  const { instanceId, attribute } = parseWith(Request, record.requestParameters, 'detail.requestParameters', event.id);
  // The pattern takes only userData; replay may hand any DescribeInstanceAttribute to a rule it names.
  if (attribute !== 'userData')
    return {
      kind: 'decided',
      decision: (resources) => compliant(`the ${terminalValue(attribute.slice(0, 64))} attribute read, not user data`, resources),
    };
  return { kind: 'items', items: [instanceId] };
}

/** The user data of N distinct instances read by one principal within a window (default 5 in 15 min), once per window. */
export const instanceUserDataRead = countingRule({
  id: 'instance-user-data-read',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => config.rules['instance-user-data-read'],
  count,
  noun: 'instances whose user data was read',
  severity: 'HIGH',
  title: (finding: Finding | undefined) =>
    finding === 'user-data-read-burst' ? 'User data of many instances read by one principal' : 'Instance user data read',
  checkNext: (finding, principal) => [
    `what else ${terminalValue(principal)} did: CloudTrail Event history, filtered by its access key or user name`,
    `whether the user data of those instances holds credentials (${awsCommand('ec2', 'describe-instance-attribute', { instanceId: placeholder('<instance-id>'), attribute: 'userData', query: 'UserData.Value' })}, base64-decoded), and rotate them; keep secrets in Secrets Manager or Parameter Store instead`,
    ...(finding === 'user-data-read-uncounted'
      ? []
      : ['if it is a scanner or inventory tool that reads every instance on purpose, exempt its role by ARN (never by name alone)']),
  ],
});
