import * as v from 'valibot';
import type { Config } from '../../shared/config.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { regionArg } from '../../shared/aws/names.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import { alert, compliant, type Decision, type EventContext, type ResourceRef, type Severity } from '../../shared/rule.js';
import { awsCommand, checked } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

// Fields decide reads; EC2 spells the NACL protocol `aclProtocol` in CloudTrail, and `egress` is a boolean.
const NetworkRequest = v.looseObject({
  destinationCidrBlock: v.optional(v.string()),
  destinationIpv6CidrBlock: v.optional(v.string()),
  gatewayId: v.optional(v.string()),
  egress: v.optional(v.boolean()),
  ruleAction: v.optional(v.string()),
  aclProtocol: v.optional(v.union([v.string(), v.number()])),
  cidrBlock: v.optional(v.string()),
  ipv6CidrBlock: v.optional(v.string()),
  peerOwnerId: v.optional(v.string()),
});
const Response = v.optional(v.record(v.string(), v.unknown()));

// The resource a call is about, typed by its id's prefix: the one a Create… made, else the request's.
const TYPES: Readonly<Record<string, string>> = {
  acl: 'AWS::EC2::NetworkAcl',
  rtb: 'AWS::EC2::RouteTable',
  igw: 'AWS::EC2::InternetGateway',
  nat: 'AWS::EC2::NatGateway',
  cgw: 'AWS::EC2::CustomerGateway',
  pcx: 'AWS::EC2::VPCPeeringConnection',
  vpc: 'AWS::EC2::VPC',
};
const ID_FIELDS = [
  'networkAclId',
  'routeTableId',
  'internetGatewayId',
  'natGatewayId',
  'customerGatewayId',
  'vpcPeeringConnectionId',
  'vpcId',
  'associationId',
];
const RESOURCE_ID = /^(acl|rtb|igw|nat|cgw|pcx|vpc)-[0-9a-f]{8,17}$/;

/** A created resource's id in a response (`{"vpc": {"vpcId": …}}`, `{"CreateNatGatewayResponse": {"natGateway": …}}`), three levels deep at most. */
function createdIdIn(value: unknown, depth = 0): string | undefined {
  if (depth > 3 || value === null || typeof value !== 'object') return undefined;
  for (const [key, child] of Object.entries(value)) {
    if (key.endsWith('Id') && typeof child === 'string' && RESOURCE_ID.test(child)) return child;
    const found = createdIdIn(child, depth + 1);
    if (found) return found;
  }
  return undefined;
}

interface NetworkFacts {
  readonly resources: readonly ResourceRef[];
  readonly request: v.InferOutput<typeof NetworkRequest>;
  /** Owners of a peering connection's two sides, when the response names them. */
  readonly peerOwners: readonly string[];
}

type Settings = Config['rules']['network-change'];

/**
 * What this rule reports: a change that widens exposure (a default route to an internet gateway, a NACL allowing
 * all inbound traffic from anywhere, peering with another account: HIGH), and any other network change (MEDIUM).
 */
export const FINDINGS = ['public-route', 'nacl-allows-all-inbound', 'cross-account-peering', 'network-change'] as const;
type Finding = (typeof FINDINGS)[number];

/** How a change widens exposure: its finding, and the words the reason gives it. */
interface Exposure {
  readonly finding: Exclude<Finding, 'network-change'>;
  readonly text: string;
}

function parse({ record, event }: EventContext): NetworkFacts {
  const request = parseWith(NetworkRequest, record.requestParameters, 'detail.requestParameters', event.id);
  const response = parseWith(Response, record.responseElements, 'detail.responseElements', event.id);
  const raw = request as Record<string, unknown>;
  const requested = ID_FIELDS.map((field) => raw[field]).find((value): value is string => typeof value === 'string');
  // A Create… names its parent (CreateRouteTable's vpcId) in the request and the new resource in the response.
  const id = (record.eventName.startsWith('Create') ? createdIdIn(response) : undefined) ?? requested;
  const peering = (response?.vpcPeeringConnection ?? {}) as { requesterVpcInfo?: { ownerId?: unknown }; accepterVpcInfo?: { ownerId?: unknown } };
  const peerOwners = [peering.requesterVpcInfo?.ownerId, peering.accepterVpcInfo?.ownerId, request.peerOwnerId].filter(
    (o): o is string => typeof o === 'string',
  );
  return { resources: id ? [{ type: TYPES[id.split('-')[0] ?? ''] ?? 'AWS::EC2::Association', id }] : [], request, peerOwners };
}

const WORLD = new Set(['0.0.0.0/0', '::/0']);

/** Why this change widens exposure (HIGH), or undefined for an ordinary change (MEDIUM). */
function exposureOf({ request, peerOwners }: NetworkFacts, eventName: string, account: string | undefined): Exposure | undefined {
  const destination = request.destinationCidrBlock ?? request.destinationIpv6CidrBlock;
  if ((eventName === 'CreateRoute' || eventName === 'ReplaceRoute') && destination && WORLD.has(destination) && request.gatewayId?.startsWith('igw-')) {
    return {
      finding: 'public-route',
      text: `a default route (${destination}) to internet gateway ${request.gatewayId}: the route table's subnets are now public`,
    };
  }
  const source = request.cidrBlock ?? request.ipv6CidrBlock;
  if (
    (eventName === 'CreateNetworkAclEntry' || eventName === 'ReplaceNetworkAclEntry')
    && request.ruleAction === 'allow'
    && request.egress === false
    && source
    && WORLD.has(source)
    && String(request.aclProtocol) === '-1'
  ) {
    return { finding: 'nacl-allows-all-inbound', text: `the NACL now allows all inbound traffic from ${source}` };
  }
  const foreign = peerOwners.find((owner) => account !== undefined && owner !== account);
  if (eventName.includes('VpcPeeringConnection') && !eventName.startsWith('Delete') && !eventName.startsWith('Reject') && foreign) {
    return { finding: 'cross-account-peering', text: `peering with another account (${foreign})` };
  }
  return undefined;
}

// Inert until associated, attached or given entries, each of which alerts: creating them changes no traffic path.
const INERT = new Set(['CreateNetworkAcl', 'CreateRouteTable', 'CreateInternetGateway']);

function decide(facts: NetworkFacts, { record, event }: EventContext): Decision {
  const on = facts.resources[0]?.id ?? 'a network resource';
  if (INERT.has(record.eventName))
    return compliant(`${record.eventName} created ${on}, which carries no traffic until it is associated or attached (that call alerts)`, facts.resources);
  const exposure = exposureOf(facts, record.eventName, event.account);
  const severity: Severity = exposure ? 'HIGH' : 'MEDIUM';
  return alert(
    `network change: ${record.eventName} on ${on}${exposure ? `: ${exposure.text}` : ''}`,
    severity,
    facts.resources,
    exposure?.finding ?? 'network-change',
  );
}

/** Changes to NACLs, internet/NAT/customer gateways, route tables and routes, VPCs and VPC peering. */
export const networkChange = alertRule<NetworkFacts, undefined, Record<string, never>, Settings, Finding>({
  id: 'network-change',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  // A change of a kind CIS names (a route, a NACL, a VPC's peering); the other network changes name none.
  controls: {
    byFinding: { 'public-route': ['CloudWatch.13'], 'nacl-allows-all-inbound': ['EC2.21', 'CloudWatch.11'], 'cross-account-peering': ['CloudWatch.14'] },
  },
  settings: (config: Config) => config.rules['network-change'],
  parse,
  decide: (facts, _state, _settings, context) => decide(facts, context),
  title: (record) => `Network change: ${record.eventName ?? 'call'} ${record.resources[0]?.id ?? ''}`.trim(),
  checkNext: (record) => {
    const id = record.resources[0]?.id;
    // A request's id field is any string: only an EC2 id of the expected shape goes into a command.
    const ids = [checked(id, 'resource id', (value) => RESOURCE_ID.test(value))];
    const region = regionArg(record.region);
    const describe = id?.startsWith('rtb-')
      ? awsCommand('ec2', 'describe-route-tables', { routeTableIds: ids, region })
      : id?.startsWith('acl-')
        ? awsCommand('ec2', 'describe-network-acls', { networkAclIds: ids, region })
        : id?.startsWith('pcx-')
          ? awsCommand('ec2', 'describe-vpc-peering-connections', { vpcPeeringConnectionIds: ids, region })
          : `the resource in the VPC console, in ${record.region ?? "the event's Region"}`;
    return ['was this a planned change (a Terraform/CloudFormation run, a change ticket)? The actor and user agent are below', `current state: ${describe}`];
  },
});
