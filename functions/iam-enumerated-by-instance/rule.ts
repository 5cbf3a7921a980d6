import type { CloudTrailRecord } from '../../shared/events/schema.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { isInstanceId } from '../../shared/aws/names.js';
import { revokeOlderSessionsCommand } from '../../shared/alerts/revoke-sessions.js';
import type { Config } from '../../shared/config.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { alert, compliant, type Decision, type EventContext, type ResourceRef } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, placeholder } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

/**
 * IAM enumerated with an instance's credentials (`iam-enumerated-by-instance`), or tried and denied
 * (`iam-enumeration-denied-from-instance`): workloads read their own configuration, not the account's users, roles
 * and policies; this is the first thing someone does with credentials lifted from an instance's metadata service.
 */
export const FINDINGS = ['iam-enumerated-by-instance', 'iam-enumeration-denied-from-instance'] as const;
type Finding = (typeof FINDINGS)[number];

interface EnumerationFacts {
  readonly resources: readonly ResourceRef[];
  /** `ec2`: EC2 delivered the credentials (`ec2RoleDelivery` set); `named`: only the session name is an instance id. */
  readonly credentials: 'ec2' | 'named' | 'other';
  readonly instanceId: string | undefined;
  readonly roleName: string | undefined;
  readonly call: string;
}

function factsOf(record: CloudTrailRecord): EnumerationFacts {
  const actor = record.actor;
  const session = actor.type === 'AssumedRole' ? actor.sessionName : undefined;
  const instanceId = session !== undefined && isInstanceId(session) ? session : undefined;
  const delivered = actor.type === 'AssumedRole' && actor.ec2RoleDelivery !== undefined;
  const roleName = actor.type === 'AssumedRole' ? actor.roleName : undefined;
  const roleArn = actor.type === 'AssumedRole' ? actor.roleArn : undefined;
  return {
    // The role is the resource: an exemption names its ARN, as for every role-scoped signal.
    resources: roleArn ? [{ type: 'AWS::IAM::Role', id: roleArn }] : [],
    credentials: delivered ? 'ec2' : instanceId ? 'named' : 'other',
    instanceId,
    roleName,
    call: record.eventName,
  };
}

function whose(facts: EnumerationFacts): string {
  const role = terminalValue(facts.roleName ?? 'an unnamed role');
  const instance = facts.instanceId ?? 'an instance';
  return facts.credentials === 'ec2'
    ? `role ${role}, with credentials EC2 delivered to ${instance} through its instance profile`
    : `role ${role}, in a session named ${instance} (EC2 names instance sessions so; the record does not show EC2 delivered these credentials)`;
}

function decide(facts: EnumerationFacts): Decision {
  if (facts.credentials === 'other')
    return compliant('the session is not an instance profile session (its name is no instance id, and EC2 did not deliver it)', facts.resources);
  return alert(
    `IAM enumerated (${facts.call}) by ${whose(facts)}: workloads do not list the account's users, roles and policies; credentials taken from the instance are the likely cause`,
    'HIGH',
    facts.resources,
    'iam-enumerated-by-instance',
  );
}

/** A denied attempt is as telling: the credentials were tried where they had no right. */
function failedCall(record: CloudTrailRecord): Decision | undefined {
  const facts = factsOf(record);
  if (facts.credentials === 'other') return undefined;
  return alert(
    `IAM enumeration tried and refused (${facts.call}, ${terminalValue(record.errorCode ?? 'an error')}) by ${whose(facts)}: someone is probing what these credentials can do`,
    'HIGH',
    facts.resources,
    'iam-enumeration-denied-from-instance',
  );
}

export const iamEnumeratedByInstance = alertRule<EnumerationFacts, undefined, Record<string, never>, Config['rules']['iam-enumerated-by-instance'], Finding>({
  id: 'iam-enumerated-by-instance',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => config.rules['iam-enumerated-by-instance'],
  parse: ({ record }: EventContext) => factsOf(record),
  decide,
  failedCall,
  title: (record, finding) =>
    `${finding === 'iam-enumeration-denied-from-instance' ? 'IAM enumeration tried' : 'IAM enumerated'} with instance credentials: ${record.resources[0]?.id ?? 'unknown role'}`,
  checkNext: (record) => {
    const roleArn = record.resources[0]?.id;
    const roleName = roleArn?.slice(roleArn.lastIndexOf('/') + 1);
    return [
      `whether anything on the instance should call IAM at all; its metadata options (${awsCommand('ec2', 'describe-instances', { instanceIds: placeholder('<instance-id>'), query: 'Reservations[].Instances[].MetadataOptions' })}): require IMDSv2, hop limit 1`,
      "the role's other calls from addresses that are not the instance's (CloudTrail Event history by access key id)",
      `cut the sessions issued so far (new ones still work once the instance is clean): ${revokeOlderSessionsCommand(roleName, record.eventTime ?? new Date().toISOString())}`,
    ];
  },
});
