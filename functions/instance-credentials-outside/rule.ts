import type { EC2Client } from '@aws-sdk/client-ec2';
import { alertRule, resourceLabel } from '../../shared/alerts/alert-rule.js';
import { revokeOlderSessionsCommand } from '../../shared/alerts/revoke-sessions.js';
import { ec2Client } from '../../shared/aws/ec2.js';
import { isInstanceId, regionArg } from '../../shared/aws/names.js';
import type { Config } from '../../shared/config.js';
import { ParseError } from '../../shared/errors.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { isAddressInCidr, parseIp } from '../../shared/net/cidr.js';
import { alert, compliant, notApplicable, type Decision, type EventContext, type ResourceRef } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, checked, placeholder } from '../../shared/shell.js';
import {
  DESCRIBE_INSTANCES,
  DESCRIBE_NAT_GATEWAYS,
  type FailedRead,
  type InstanceAddresses,
  isAddressInAny,
  isPrivateAddress,
  readInstanceAddresses,
} from './addresses.js';
import pattern from './pattern.json' with { type: 'json' };

/**
 * A call signed with an instance profile's session from an address that is not the instance's, nor its VPC's NAT
 * gateways', nor a trusted egress range (`instance-credentials-outside`, HIGH): credentials lifted from the metadata
 * service and used elsewhere. A private address that is not the instance's (MEDIUM), an instance not found in the
 * call's Region or addresses that could not be read (MEDIUM), and offline, where nothing is read (LOW), say what they
 * could not tell.
 */
export const FINDINGS = [
  'instance-credentials-outside',
  'instance-credentials-private-elsewhere',
  'instance-not-found',
  'instance-addresses-unchecked',
  'instance-credentials-unchecked-offline',
] as const;
type Finding = (typeof FINDINGS)[number];

type Settings = Config['rules']['instance-credentials-outside'];
type Clients = { readonly ec2: EC2Client };

interface OutsideFacts {
  readonly resources: readonly ResourceRef[];
  /** Undefined when the session is not an instance's (named like one only: `i-am-a-job`). */
  readonly instanceId: string | undefined;
  readonly roleName: string | undefined;
  /** The source as an address; undefined when it is a service or host name (`ec2.amazonaws.com`, `AWS Internal`). */
  readonly sourceIp: string | undefined;
  /** The source as recorded, made safe to print. */
  readonly source: string;
  /** `sts:GetCallerIdentity`, and `, refused (AccessDenied)` when it failed: a denied probe is as telling. */
  readonly call: string;
  readonly region: string;
}

function parse({ record, event }: EventContext): OutsideFacts {
  const actor = record.actor;
  if (record.sourceIp === undefined || record.sourceIp === '') throw new ParseError('detail.sourceIPAddress', 'is missing', event.id);
  const session = actor.type === 'AssumedRole' ? actor.sessionName : undefined;
  const instanceId = session !== undefined && isInstanceId(session) ? session : undefined;
  // EC2 names every session it delivers after the instance: a record that says otherwise cannot be judged.
  if (actor.type === 'AssumedRole' && actor.ec2RoleDelivery !== undefined && !instanceId)
    throw new ParseError('detail.userIdentity.arn', 'expected an instance id as the session name of credentials EC2 delivered', event.id);
  const roleArn = actor.type === 'AssumedRole' ? actor.roleArn : undefined;
  const service = record.eventSource.replace(/\.amazonaws\.com$/, '');
  return {
    // The role is the resource: an exemption names its ARN (automation whose egress is not listed), never a name alone.
    resources: roleArn ? [{ type: 'AWS::IAM::Role', id: roleArn }] : [],
    instanceId,
    roleName: actor.type === 'AssumedRole' ? actor.roleName : undefined,
    sourceIp: parseIp(record.sourceIp) ? record.sourceIp.trim() : undefined,
    source: terminalValue(record.sourceIp),
    call: terminalValue(`${service}:${record.eventName}${record.errorCode ? `, refused (${record.errorCode})` : ''}`),
    region: record.awsRegion || event.region,
  };
}

/** The trusted egress range the address lies in, if any. */
const trustedRange = (settings: Settings, address: string): string | undefined => settings.trustedEgressCidrs.find((cidr) => isAddressInCidr(address, cidr));

// No read where decide does not need one: not an instance, not an address, or a trusted egress.
async function inspect(facts: OutsideFacts, { ec2 }: Clients, _context: EventContext, settings: Settings): Promise<InstanceAddresses | undefined> {
  if (!facts.instanceId || !facts.sourceIp || trustedRange(settings, facts.sourceIp)) return undefined;
  return readInstanceAddresses(ec2, facts.instanceId, facts.sourceIp);
}

const PERMISSIONS: Readonly<Record<string, string>> = { [DESCRIBE_INSTANCES]: 'ec2:DescribeInstances', [DESCRIBE_NAT_GATEWAYS]: 'ec2:DescribeNatGateways' };

const failedBecause = (failed: FailedRead) =>
  failed.kind === 'denied'
    ? `${failed.api} was denied (${terminalValue(failed.code)}): the role needs ${PERMISSIONS[failed.api] ?? 'its permission'}, or an SCP blocks it`
    : `${failed.api} failed (${terminalValue(failed.code)}, ${failed.kind})`;

function decide(facts: OutsideFacts, state: InstanceAddresses | undefined, settings: Settings): Decision {
  const { instanceId, sourceIp, resources } = facts;
  if (!instanceId) return compliant('not an instance profile session: the session name is no instance id and EC2 did not deliver it', resources);
  if (!sourceIp) return notApplicable(`the call came from ${facts.source}, a name and not an address (AWS calling for the role, or an export that rewrote it)`);
  const trusted = trustedRange(settings, sourceIp);
  const what = `${facts.call} with the credentials of ${instanceId} (role ${terminalValue(facts.roleName ?? 'unnamed')}) from ${facts.source}`;
  if (trusted) return compliant(`${what}: inside the trusted egress range ${trusted}`, resources);
  if (!state)
    return alert(
      `${what}: offline, so whether that is the instance's address or its NAT's cannot be told (no EC2 reads)`,
      'LOW',
      resources,
      'instance-credentials-unchecked-offline',
    );
  if (!state.found)
    return state.failed
      ? alert(`${what}: the instance's addresses could not be read, ${failedBecause(state.failed)}`, 'MEDIUM', resources, 'instance-addresses-unchecked')
      : alert(
          `${what}: no instance ${instanceId} in ${facts.region}, so whether that is its address cannot be told; the credentials work in every Region (used away from the instance's) or the instance is gone`,
          'MEDIUM',
          resources,
          'instance-not-found',
        );
  if (isAddressInAny(sourceIp, state.own)) return compliant(`${what}: one of the instance's own addresses`, resources);
  if (isAddressInAny(sourceIp, state.nat)) return compliant(`${what}: a NAT gateway of its VPC ${state.vpcId ?? 'unknown'}`, resources);
  if (state.natRead)
    return alert(
      `${what}: not the instance's address, and its VPC's NAT gateways could not be read, ${failedBecause(state.natRead)}`,
      'MEDIUM',
      resources,
      'instance-addresses-unchecked',
    );
  if (isPrivateAddress(sourceIp))
    return alert(
      `${what}: a private address that is not the instance's: another host, a peered VPC or a proxy used these credentials (a proxy's range belongs in trustedEgressCidrs)`,
      'MEDIUM',
      resources,
      'instance-credentials-private-elsewhere',
    );
  return alert(
    `${what}: not the instance's address, nor a NAT gateway of its VPC, nor a trusted egress range; credentials taken from the instance are the likely cause`,
    'HIGH',
    resources,
    'instance-credentials-outside',
  );
}

const TITLES: Readonly<Record<Finding, string>> = {
  'instance-credentials-outside': 'Instance credentials used from outside',
  'instance-credentials-private-elsewhere': 'Instance credentials used from another private address',
  'instance-not-found': 'Instance credentials used, instance not found',
  'instance-addresses-unchecked': 'Instance credentials used, addresses unchecked',
  'instance-credentials-unchecked-offline': 'Instance credentials used, unchecked (offline)',
};

/** The instance id of the record's actor (`…:assumed-role/<role>/<instance id>`), for commands. */
const instanceOf = (actor: string | null): string | undefined => actor?.slice(actor.lastIndexOf('/') + 1);

/** Instance profile sessions calling from an address that is not the instance's (notify-only; reads EC2 only). */
export const instanceCredentialsOutside = {
  ...alertRule<OutsideFacts, InstanceAddresses | undefined, Clients, Settings, Finding>({
    id: 'instance-credentials-outside',
    pattern: pattern as EventPattern,
    findings: FINDINGS,
    settings: (config: Config) => config.rules['instance-credentials-outside'],
    parse,
    reads: {
      permissions: PERMISSIONS,
      clients: (options) => ({ ec2: ec2Client(options) }),
      inspect,
    },
    decide,
    title: (record, finding) => `${finding ? TITLES[finding] : 'Instance credentials'}: ${resourceLabel(record)}`,
    checkNext: (record, finding) => {
      const roleArn = record.resources[0]?.id;
      const instance = checked(instanceOf(record.actor), 'instance id', isInstanceId);
      const region = finding === 'instance-not-found' ? placeholder('<each-region>') : regionArg(record.region);
      return [
        `whose address ${terminalValue(record.sourceIp ?? 'the source')} is (your VPN, proxy or central egress: then add its range to trustedEgressCidrs)`,
        `the instance, its addresses and metadata options (require IMDSv2, hop limit 1): ${awsCommand('ec2', 'describe-instances', { instanceIds: instance, region, query: 'Reservations[].Instances[].[PublicIpAddress,VpcId,MetadataOptions]' })}`,
        'every call of the sessions of the role from other addresses: CloudTrail Event history, User name the instance id',
        `cut the sessions issued so far (never run automatically; credentials the instance receives next still work): ${revokeOlderSessionsCommand(roleArn?.slice(roleArn.lastIndexOf('/') + 1), record.eventTime ?? new Date().toISOString())}`,
      ];
    },
  }),
  // A refused call from outside is the stolen-key probe: failed calls are judged like any other.
  decidesFailedCalls: true as const,
};
