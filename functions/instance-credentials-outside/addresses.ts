import { DescribeInstancesCommand, DescribeNatGatewaysCommand, type EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { awsCall } from '../../shared/aws/errors.js';
import { AwsCallError, type AwsErrorKind } from '../../shared/errors.js';
import { formatCidr, isAddressInCidr, PRIVATE_BLOCKS, parseIp } from '../../shared/net/cidr.js';

export const DESCRIBE_INSTANCES = 'EC2.DescribeInstances';
export const DESCRIBE_NAT_GATEWAYS = 'EC2.DescribeNatGateways';

/** What a failed read left unknown; transient failures are rethrown instead, so the event is retried. */
export interface FailedRead {
  readonly api: string;
  readonly kind: Exclude<AwsErrorKind, 'transient'>;
  readonly code: string;
}

/**
 * The addresses an instance's calls may come from, as read after the event (an address released since is not
 * among them: the reason says the check is of the instance as it is now).
 * `own`: its addresses and IPv6 prefixes as CIDRs (public, Elastic, private, IPv6); `nat`: its VPC's NAT gateways' addresses.
 */
export type InstanceAddresses =
  | {
      readonly found: true;
      readonly vpcId: string | undefined;
      readonly own: readonly string[];
      readonly nat: readonly string[];
      readonly natRead: FailedRead | undefined;
    }
  | { readonly found: false; readonly failed: FailedRead | undefined };

const hostCidr = (address: string): string | undefined => {
  const ip = parseIp(address);
  return ip ? `${address.trim()}/${ip.family === 4 ? 32 : 128}` : undefined;
};

/** Every address of every network interface (DescribeInstances' Instance shape, API reference), as CIDRs. */
function ownAddressesOf(instance: Instance): string[] {
  const addresses: (string | undefined)[] = [instance.PublicIpAddress, instance.PrivateIpAddress, instance.Ipv6Address];
  const prefixes: (string | undefined)[] = [];
  for (const eni of instance.NetworkInterfaces ?? []) {
    addresses.push(eni.Association?.PublicIp, eni.PrivateIpAddress);
    for (const entry of eni.PrivateIpAddresses ?? []) addresses.push(entry.PrivateIpAddress, entry.Association?.PublicIp);
    for (const entry of eni.Ipv6Addresses ?? []) addresses.push(entry.Ipv6Address);
    for (const entry of eni.Ipv6Prefixes ?? []) prefixes.push(entry.Ipv6Prefix);
  }
  const cidrs = [...addresses.flatMap((a) => (a ? (hostCidr(a) ?? []) : [])), ...prefixes.flatMap((p) => p ?? [])];
  return [...new Set(cidrs)];
}

function failedRead(error: unknown): FailedRead {
  if (!(error instanceof AwsCallError) || error.kind === 'transient') throw error;
  return { api: error.api, kind: error.kind, code: error.code };
}

/**
 * The instance's addresses in the client's Region, and its VPC's NAT gateways' only when the source is none of
 * its own (one read saved on the common case). Not found: gone, or in another Region (the credentials work in all).
 */
export async function readInstanceAddresses(ec2: EC2Client, instanceId: string, sourceIp: string): Promise<InstanceAddresses> {
  let instance: Instance | undefined;
  try {
    const answer = await awsCall(DESCRIBE_INSTANCES, instanceId, () => ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })));
    instance = answer.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
  } catch (error) {
    const failed = failedRead(error);
    return { found: false, failed: failed.kind === 'gone' ? undefined : failed };
  }
  if (!instance) return { found: false, failed: undefined };
  const own = ownAddressesOf(instance);
  const vpcId = instance.VpcId;
  // NAT gateways translate to IPv4: a public one's public address, a private one's private address (to a peered VPC,
  // a transit gateway, on premises). An IPv6 source cannot be one.
  const natPossible = parseIp(sourceIp)?.family === 4;
  if (!vpcId || !natPossible || isAddressInAny(sourceIp, own)) return { found: true, vpcId, own, nat: [], natRead: undefined };
  try {
    // A VPC holds a handful of NAT gateways: one page of up to 1000 is all of them.
    const answer = await awsCall(DESCRIBE_NAT_GATEWAYS, vpcId, () =>
      ec2.send(new DescribeNatGatewaysCommand({ Filter: [{ Name: 'vpc-id', Values: [vpcId] }], MaxResults: 1000 })),
    );
    const nat = (answer.NatGateways ?? []).flatMap((gateway) =>
      (gateway.NatGatewayAddresses ?? []).flatMap((address) => [address.PublicIp, address.PrivateIp].filter((ip): ip is string => ip !== undefined)),
    );
    return { found: true, vpcId, own, nat: [...new Set(nat)], natRead: undefined };
  } catch (error) {
    return { found: true, vpcId, own, nat: [], natRead: failedRead(error) };
  }
}

/** True when the address lies in one of the CIDRs (either family; a bare address never matches a CIDR of the other). */
export function isAddressInAny(address: string, cidrs: readonly string[]): boolean {
  return cidrs.some((cidr) => isAddressInCidr(address, cidr.includes('/') ? cidr : (hostCidr(cidr) ?? '')));
}

const PRIVATE_CIDRS = PRIVATE_BLOCKS.map(formatCidr);

/** RFC 1918, shared address space (100.64/10), IPv6 unique local, loopback, link-local: reached only over a private path. */
export function isPrivateAddress(address: string): boolean {
  return isAddressInAny(address, PRIVATE_CIDRS);
}
