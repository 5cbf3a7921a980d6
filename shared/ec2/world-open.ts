import type { IpPermission, SecurityGroupRule } from '@aws-sdk/client-ec2';
import { DEFAULT_WORLD_OPEN_PREFIX } from '../config.js';
import { formatCidr, isWithin, parseCidr, PRIVATE_BLOCKS, unionBlocks, type CidrBlock } from '../net/cidr.js';

/**
 * Pure analysis of CIDR-sourced security-group rules: which are open to the whole internet, and which of
 * those configuration allows. Rules from prefix lists or other security groups are never represented here,
 * so nothing built on these types can touch them.
 */

/** One CIDR-sourced ingress rule, normalised: what an event asked for, or what a group holds now. */
export interface CidrRule {
  /** `sgr-…`, when known (response elements, ModifySecurityGroupRules, DescribeSecurityGroupRules). */
  readonly ruleId: string | undefined;
  /** `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (all), or another protocol as EC2 spells it. */
  readonly protocol: string;
  /** TCP/UDP port range; ICMP type and code; -1/-1 for all protocols or all ICMP. */
  readonly fromPort: number;
  readonly toPort: number;
  readonly cidr: string;
  readonly description: string | undefined;
}

/** A port that may stay open to the world (config `allowedWorldPorts`). */
export interface AllowedPort {
  readonly protocol: 'tcp' | 'udp';
  readonly port: number;
}

// EC2 accepts protocol numbers and stores the four named ones by name (DescribeSecurityGroupRules says "tcp").
const PROTOCOL_NAMES: Readonly<Record<string, string>> = { '6': 'tcp', '17': 'udp', '1': 'icmp', '58': 'icmpv6' };

/** A protocol as EC2 stores it: `TCP` and `6` are both `tcp`; `-1` stays `-1`. */
export function normalizeProtocol(raw: string | number): string {
  const value = String(raw).trim().toLowerCase();
  return PROTOCOL_NAMES[value] ?? value;
}

/**
 * The port range EC2 stores for a protocol: all protocols ignore ports (-1/-1); TCP/UDP without ports
 * count as every port, ICMP without type/code as every type.
 */
export function portsFor(protocol: string, fromPort: number | undefined, toPort: number | undefined): [number, number] {
  if (protocol === '-1') return [-1, -1];
  if (protocol === 'tcp' || protocol === 'udp') return [fromPort ?? 0, toPort ?? 65535];
  return [fromPort ?? -1, toPort ?? -1];
}

/** Prefix lengths at which a source stops being "the world": a range wider than this (a shorter prefix) is. */
export interface WorldOpenPrefix {
  readonly ipv4: number;
  readonly ipv6: number;
}

/** What decides whether a set of rules is world-open and not allowed (the rule's settings). */
export interface WorldOpenPolicy {
  readonly allowedWorldPorts: readonly AllowedPort[];
  readonly worldOpenPrefix: WorldOpenPrefix;
}

/** A block that counts as the world by itself: more of the public internet than one range at the configured prefix. */
export function isWideBlock(block: CidrBlock, limits: WorldOpenPrefix): boolean {
  return hasWidePublicPart([block], limits);
}

/**
 * True when the blocks open more of the internet than the configured prefix allows (see widePublicBlocks):
 * `10.0.0.0/7` is one public /8, so not wide; `0.0.0.0/1` is.
 */
export function hasWidePublicPart(blocks: readonly CidrBlock[], limits: WorldOpenPrefix): boolean {
  return widePublicBlocks(blocks, limits).length > 0;
}

/** How many public addresses a block holds: its size less the private ranges inside it (they are disjoint). */
function publicSize(block: CidrBlock): bigint {
  const size = (b: CidrBlock) => b.last - b.first + 1n;
  return PRIVATE_BLOCKS.reduce((left, p) => (isWithin(p, block) ? left - size(p) : left), size(block));
}

/**
 * The aligned blocks, wider than the configured prefix, that the blocks open to the world: inside the union of
 * the blocks and the private ranges (a private range adds no internet, so it may fill a gap), and holding more
 * public addresses than one range at the prefix (which is allowed). So `0.0.0.0/1` + `128.0.0.0/1` is the world
 * even when only a /0 counts, while `10.0.0.0/8` + `11.0.0.0/8`, a /7 of which one /8 is public, is not.
 */
export function widePublicBlocks(blocks: readonly CidrBlock[], limits: WorldOpenPrefix): CidrBlock[] {
  const family = blocks[0]?.family;
  if (family === undefined) return [];
  const limit = family === 4 ? limits.ipv4 : limits.ipv6;
  const allowedSize = 1n << BigInt((family === 4 ? 32 : 128) - limit);
  return unionBlocks([...blocks, ...PRIVATE_BLOCKS.filter((p) => p.family === family)]).filter(
    (block) => block.prefix < limit && publicSize(block) > allowedSize,
  );
}

/**
 * True for one source range that is the internet by itself: wider than the configured prefix (`0.0.0.0/1`, a
 * `/4`; with the default, a /8 is not) and not wholly private (`fc00::/7` is not). Any /0 is, whatever the
 * address before it: EC2 stores `1.2.3.4/0` as `0.0.0.0/0`, and the event records what the client sent.
 */
export function isWorldOpenCidr(cidr: string, limits: WorldOpenPrefix = DEFAULT_WORLD_OPEN_PREFIX): boolean {
  const block = parseCidr(cidr);
  return block !== undefined && isWideBlock(block, limits);
}

/** True for an IPv6 CIDR. */
export function isIpv6Cidr(cidr: string): boolean {
  return cidr.includes(':');
}

/** The CIDR as EC2 stores it: host bits cleared, lower case (`198.51.100.9/0` is `0.0.0.0/0`); unparsable text trimmed. */
export function canonicalCidr(cidr: string): string {
  const block = parseCidr(cidr);
  return block ? formatCidr(block) : cidr.trim().toLowerCase();
}

/** True when configuration lets this rule stay open: TCP/UDP, and every port of its range is allowed. */
export function isAllowedWorldRule(rule: CidrRule, allowed: readonly AllowedPort[]): boolean {
  if (rule.protocol !== 'tcp' && rule.protocol !== 'udp') return false;
  if (rule.fromPort < 0 || rule.toPort < rule.fromPort) return false;
  const ports = new Set(allowed.filter((a) => a.protocol === rule.protocol).map((a) => a.port));
  if (rule.toPort - rule.fromPort + 1 > ports.size) return false;
  for (let port = rule.fromPort; port <= rule.toPort; port += 1) if (!ports.has(port)) return false;
  return true;
}

/**
 * One rule that is world-open by itself on a port configuration does not allow. Whether rules add up to
 * the world together is `worldOpenRules` (world-open-set.ts): this is that question for a set of one.
 */
export function isViolating(rule: CidrRule, allowed: readonly AllowedPort[], limits: WorldOpenPrefix = DEFAULT_WORLD_OPEN_PREFIX): boolean {
  return isWorldOpenCidr(rule.cidr, limits) && !isAllowedWorldRule(rule, allowed);
}

/** Same protocol, ports and (canonical) source: how an event's rule is found among a group's rules by content. */
export function isSameRule(a: CidrRule, b: CidrRule): boolean {
  return a.protocol === b.protocol && a.fromPort === b.fromPort && a.toPort === b.toPort && canonicalCidr(a.cidr) === canonicalCidr(b.cidr);
}

function trafficLabel({ protocol, fromPort, toPort }: CidrRule): string {
  if (protocol === '-1') return 'all traffic';
  if (protocol === 'tcp' || protocol === 'udp') return fromPort === toPort ? `${protocol} ${fromPort}` : `${protocol} ${fromPort}-${toPort}`;
  if (protocol === 'icmp' || protocol === 'icmpv6') return fromPort === -1 ? `${protocol} (all types)` : `${protocol} type ${fromPort} code ${toPort}`;
  return `protocol ${protocol}`;
}

/** "tcp 22 from 0.0.0.0/0 (sgr-…)": how a rule appears in reasons and notifications. */
export function ruleLabel(rule: CidrRule): string {
  return `${trafficLabel(rule)} from ${rule.cidr}${rule.ruleId ? ` (${rule.ruleId})` : ''}`;
}

/** A group's rule from DescribeSecurityGroupRules as a CidrRule; undefined for egress, prefix-list and group sources. */
export function fromSdkRule(rule: SecurityGroupRule): CidrRule | undefined {
  const cidr = rule.CidrIpv4 ?? rule.CidrIpv6;
  // Only an explicit ingress rule with a CIDR source: an unknown direction is never touched.
  if (rule.IsEgress !== false || !cidr || !rule.IpProtocol) return undefined;
  const protocol = normalizeProtocol(rule.IpProtocol);
  const [fromPort, toPort] = portsFor(protocol, rule.FromPort, rule.ToPort);
  return { ruleId: rule.SecurityGroupRuleId, protocol, fromPort, toPort, cidr, description: rule.Description };
}

/** A rule in DescribeSecurityGroupRules spelling: the `previous` an operator re-creates a revoked rule from. */
export function toSdkRule(rule: CidrRule): SecurityGroupRule {
  return {
    ...(rule.ruleId ? { SecurityGroupRuleId: rule.ruleId } : {}),
    IsEgress: false,
    IpProtocol: rule.protocol,
    FromPort: rule.fromPort,
    ToPort: rule.toPort,
    ...(isIpv6Cidr(rule.cidr) ? { CidrIpv6: rule.cidr } : { CidrIpv4: rule.cidr }),
    ...(rule.description ? { Description: rule.description } : {}),
  };
}

/** An IpPermission of one CIDR range (never another group or a prefix list): what trailguard writes and records. */
export interface CidrPermission extends IpPermission {
  IpProtocol: string;
  IpRanges?: { CidrIp: string; Description?: string }[];
  Ipv6Ranges?: { CidrIpv6: string; Description?: string }[];
}

/** The IpPermission that authorizes (or revokes, by content) exactly this rule. */
export function toIpPermission(rule: CidrRule): CidrPermission {
  const range = rule.description ? { Description: rule.description } : {};
  return {
    IpProtocol: rule.protocol,
    ...(rule.protocol === '-1' ? {} : { FromPort: rule.fromPort, ToPort: rule.toPort }),
    ...(isIpv6Cidr(rule.cidr) ? { Ipv6Ranges: [{ CidrIpv6: rule.cidr, ...range }] } : { IpRanges: [{ CidrIp: rule.cidr, ...range }] }),
  };
}
