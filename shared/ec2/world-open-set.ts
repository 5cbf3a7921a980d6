import { isPrivateBlock, isWithin, overlaps, parseCidr, type CidrBlock } from '../net/cidr.js';
import {
  isAllowedWorldRule,
  isWideBlock,
  widePublicBlocks,
  type AllowedPort,
  type CidrRule,
  type WorldOpenPolicy,
  type WorldOpenPrefix,
} from './world-open.js';

/**
 * Which rules of a set (one call's, or one group's now) open traffic to the world, alone or together: the
 * union of the sources for the same traffic is what an attacker gets, so `0.0.0.0/1` + `128.0.0.0/1` is the
 * world although neither half is a /0.
 */

/** A stretch of traffic over which the same rules apply: a TCP/UDP port segment, an ICMP type/code, a protocol. */
interface TrafficPoint {
  readonly protocol: string;
  readonly from: number;
  readonly to: number;
  readonly allowed: boolean;
}

const isPorted = (protocol: string) => protocol === 'tcp' || protocol === 'udp';
const isIcmp = (protocol: string) => protocol === 'icmp' || protocol === 'icmpv6';

/** TCP/UDP ports a rule covers; a negative or inverted range (never stored by EC2) counts as every port. */
function portRange(rule: CidrRule): [number, number] {
  return rule.fromPort < 0 || rule.toPort < rule.fromPort ? [0, 65535] : [rule.fromPort, rule.toPort];
}

function covers(rule: CidrRule, point: TrafficPoint): boolean {
  if (rule.protocol === '-1') return true;
  if (rule.protocol !== point.protocol) return false;
  if (isPorted(rule.protocol)) {
    const [from, to] = portRange(rule);
    return from <= point.from && point.to <= to;
  }
  // ICMP: type -1 is every type, code -1 every code of the type; a point (-1, …) is a type no rule names.
  if (isIcmp(rule.protocol)) return rule.fromPort === -1 || (rule.fromPort === point.from && (rule.toPort === -1 || rule.toPort === point.to));
  return true;
}

/**
 * Every distinct stretch of traffic the rules open, each standing for all the traffic the same rules cover:
 * TCP/UDP port segments cut at every rule edge and around every allowed port (so a segment is wholly allowed
 * or wholly not), each ICMP type/code named, each other protocol, and "any protocol" for all-traffic rules.
 */
function trafficPoints(rules: readonly CidrRule[], allowed: readonly AllowedPort[]): TrafficPoint[] {
  const points: TrafficPoint[] = [];
  const protocols = new Set(rules.map((rule) => rule.protocol));
  for (const protocol of protocols) {
    const own = rules.filter((rule) => rule.protocol === protocol);
    if (isPorted(protocol)) {
      const open = new Set(allowed.filter((a) => a.protocol === protocol).map((a) => a.port));
      const edges = new Set<number>([0, 65536]);
      for (const rule of own) for (const edge of [portRange(rule)[0], portRange(rule)[1] + 1]) edges.add(edge);
      for (const port of open) edges.add(port).add(port + 1);
      const sorted = [...edges].sort((a, b) => a - b);
      for (const [index, from] of sorted.slice(0, -1).entries()) {
        const to = (sorted[index + 1] ?? 65536) - 1;
        const point = { protocol, from, to, allowed: from === to && open.has(from) };
        if (own.some((rule) => covers(rule, point))) points.push(point);
      }
    } else if (isIcmp(protocol)) {
      const named = new Set(own.map((rule) => `${rule.fromPort}/${rule.toPort}`));
      for (const key of named) {
        const [from, to] = key.split('/').map(Number);
        points.push({ protocol, from: from ?? -1, to: to ?? -1, allowed: false });
      }
    } else {
      points.push({ protocol, from: -1, to: -1, allowed: false });
    }
  }
  return points;
}

interface Placed {
  readonly rule: CidrRule;
  readonly index: number;
  readonly block: CidrBlock;
}

/** By first address, the wider of two blocks at one address first: the order unionBlocks and the sweeps below read in. */
const byStartWidestFirst = (a: Placed, b: Placed) =>
  a.block.first !== b.block.first ? (a.block.first < b.block.first ? -1 : 1) : a.block.prefix - b.block.prefix;

/** The public blocks of a union that count as the world, in address order (private ranges never add up to it). */
const wideBlocksOf = (placed: readonly Placed[], limits: WorldOpenPrefix) =>
  widePublicBlocks(
    placed.map((entry) => entry.block),
    limits,
  );

/** The entries (in start order) that share an address with one of the blocks (disjoint, in address order). */
function touching(placed: readonly Placed[], blocks: readonly CidrBlock[]): Placed[] {
  let next = 0;
  return placed.filter((entry) => {
    while (next < blocks.length && (blocks[next]?.last ?? 0n) < entry.block.first) next += 1;
    const block = blocks[next];
    return block !== undefined && overlaps(block, entry.block);
  });
}

/**
 * The rules at one traffic point, in one family, that make it world-open now: when the union of their sources
 * holds a wide block, the outermost rules inside such a block (a rule nested in a wider one adds nothing
 * while the wider one is there), except wholly private ones (never the internet by themselves).
 */
function outermostOpeners(here: readonly Placed[], limits: WorldOpenPrefix): Placed[] {
  const wide = wideBlocksOf(here, limits);
  if (wide.length === 0) return [];
  // CIDR blocks nest or are disjoint: in start order, widest first, a block is outermost unless the last outermost one holds it.
  let outer: CidrBlock | undefined;
  const outermost = here.filter((entry) => {
    if (outer !== undefined && isWithin(entry.block, outer) && entry.block.prefix > outer.prefix) return false;
    outer = entry.block;
    return true;
  });
  return touching(outermost, wide).filter((entry) => !isPrivateBlock(entry.block));
}

/**
 * The rules of one call (or of one group now) that open traffic configuration does not allow to the world, in
 * their order. A rule counts when its source is wider than the configured prefix, and also when, with the
 * other rules for the same traffic (same protocol and port, all-traffic rules included), the union of their
 * sources holds a non-private block wider than that: `0.0.0.0/1` + `128.0.0.0/1`, or four /2s, is the world.
 * Revoking exactly these leaves no such union behind; narrower rules nested in them stay unless they add up
 * to the world themselves, and private ranges always stay.
 */
export function worldOpenRules(rules: readonly CidrRule[], policy: WorldOpenPolicy): CidrRule[] {
  const limits = policy.worldOpenPrefix;
  const open = new Set<number>();
  const narrow: Placed[] = [];
  for (const [index, rule] of rules.entries()) {
    // An unparsable source cannot be placed on the internet's map; parse and the SDK never give one.
    const block = parseCidr(rule.cidr);
    if (!block) continue;
    // Wide by itself: world-open wherever it opens a port that is not allowed. The rest is judged without
    // it, so only what the narrow rules add up to is left to find.
    if (!isWideBlock(block, limits)) narrow.push({ rule, index, block });
    else if (!isAllowedWorldRule(rule, policy.allowedWorldPorts)) open.add(index);
  }
  narrow.sort(byStartWidestFirst);
  for (const family of [4, 6] as const) {
    const ofFamily = narrow.filter((entry) => entry.block.family === family);
    // Whatever the traffic, a union at one point lies inside the union of all the rules: a rule outside every
    // wide block of that can never be world-open (most groups end here, in one pass).
    const candidates = touching(ofFamily, wideBlocksOf(ofFamily, limits));
    for (const point of candidates.length > 0
      ? trafficPoints(
          candidates.map((entry) => entry.rule),
          policy.allowedWorldPorts,
        )
      : []) {
      if (point.allowed) continue;
      // Peel the union layer by layer: once the outer openers go, nested rules may still add up to the world.
      let here = candidates.filter((entry) => covers(entry.rule, point));
      for (let openers = outermostOpeners(here, limits); openers.length > 0; openers = outermostOpeners(here, limits)) {
        for (const entry of openers) open.add(entry.index);
        const peeled = new Set(openers);
        here = here.filter((entry) => !peeled.has(entry));
      }
    }
  }
  return rules.filter((_, index) => open.has(index));
}
