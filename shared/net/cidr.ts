/**
 * IP addresses and CIDR blocks, IPv4 and IPv6, in one place: parsing (strict), containment, and the union of a
 * set of blocks. Addresses are bigints so both families share one code path.
 */

/** 4 or 6. */
export type IpFamily = 4 | 6;

/** A CIDR block with its host bits cleared: `first` and `last` are its lowest and highest address. */
export interface CidrBlock {
  readonly family: IpFamily;
  readonly prefix: number;
  readonly first: bigint;
  readonly last: bigint;
}

const BITS: Readonly<Record<IpFamily, number>> = { 4: 32, 6: 128 };

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

/** Eight 16-bit groups, `::` for one or more zero groups, an optional dotted IPv4 tail (`::ffff:192.0.2.1`). */
function parseIpv6(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string): number[] | undefined => {
    if (half === '') return [];
    const groups: number[] = [];
    const parts = half.split(':');
    for (const [index, part] of parts.entries()) {
      if (index === parts.length - 1 && part.includes('.')) {
        const v4 = parseIpv4(part);
        if (v4 === undefined) return undefined;
        groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (/^[0-9a-f]{1,4}$/i.test(part)) {
        groups.push(Number.parseInt(part, 16));
      } else {
        return undefined;
      }
    }
    return groups;
  };
  const head = groupsOf(halves[0] ?? '');
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? '') : [];
  if (!head || !tail) return undefined;
  // A dotted tail is only valid at the very end.
  if (halves.length === 2 && (halves[0] ?? '').includes('.')) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return groups.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

/** An address as a number of its family; undefined for anything that is not one (no zone ids, no whitespace inside). */
export function parseIp(text: string): { readonly family: IpFamily; readonly value: bigint } | undefined {
  const trimmed = text.trim();
  const family: IpFamily = trimmed.includes(':') ? 6 : 4;
  const value = family === 6 ? parseIpv6(trimmed) : parseIpv4(trimmed);
  return value === undefined ? undefined : { family, value };
}

/**
 * The address part, family and prefix length of a CIDR-shaped text (`[0-9.]` or `[0-9a-f:.]`, a slash, a prefix
 * that fits the family), the address not yet read: all a caller needs that only asks how wide a range is.
 */
export function cidrShape(text: string): { readonly address: string; readonly family: IpFamily; readonly prefix: number } | undefined {
  const match = /^([\da-f:.]+)\/(\d{1,3})$/i.exec(text.trim());
  const address = match?.[1] ?? '';
  const family: IpFamily = address.includes(':') ? 6 : 4;
  const prefix = Number(match?.[2]);
  return match && prefix <= BITS[family] ? { address, family, prefix } : undefined;
}

/**
 * A CIDR block, host bits cleared (`198.51.100.9/0` is `0.0.0.0/0`, as EC2 stores it); undefined when the text
 * is not a CIDR of its family.
 */
export function parseCidr(text: string): CidrBlock | undefined {
  const shape = cidrShape(text);
  const address = shape && parseIp(shape.address);
  return shape && address ? blockAt(address.family, address.value, shape.prefix) : undefined;
}

function blockAt(family: IpFamily, address: bigint, prefix: number): CidrBlock {
  const hostBits = BigInt(BITS[family] - prefix);
  const first = (address >> hostBits) << hostBits;
  return { family, prefix, first, last: first + (1n << hostBits) - 1n };
}

function formatIpv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, index) => Number((value >> BigInt(112 - 16 * index)) & 0xffffn));
  // RFC 5952: the longest run of two or more zero groups becomes `::` (the first, on a tie).
  let best = { start: -1, length: 1 };
  for (let start = 0; start < 8; start += 1) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length += 1;
    if (length > best.length) best = { start, length };
  }
  const hex = (list: number[]) => list.map((group) => group.toString(16)).join(':');
  if (best.start < 0) return hex(groups);
  return `${hex(groups.slice(0, best.start))}::${hex(groups.slice(best.start + best.length))}`;
}

/** A block in canonical spelling: `0.0.0.0/0`, `2001:db8::/32` (lower case, RFC 5952 compression). */
export function formatCidr(block: CidrBlock): string {
  if (block.family === 6) return `${formatIpv6(block.first)}/${block.prefix}`;
  const octets = [24n, 16n, 8n, 0n].map((shift) => String((block.first >> shift) & 0xffn));
  return `${octets.join('.')}/${block.prefix}`;
}

/** True when the address (`203.0.113.7`) lies in the CIDR block (`203.0.113.0/24`); false when either is not one. */
export function isAddressInCidr(address: string, cidr: string): boolean {
  const ip = parseIp(address);
  const block = parseCidr(cidr);
  return ip !== undefined && block !== undefined && ip.family === block.family && ip.value >= block.first && ip.value <= block.last;
}

/** True when `inner` lies wholly inside `outer` (same family). */
export function isWithin(inner: CidrBlock, outer: CidrBlock): boolean {
  return inner.family === outer.family && inner.first >= outer.first && inner.last <= outer.last;
}

/** True when the two blocks share an address. */
export function overlaps(a: CidrBlock, b: CidrBlock): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

/**
 * Sources that are not the internet: private use (RFC 1918, IPv6 unique local), shared address space
 * (carrier-grade NAT), loopback and link-local. A rule from one of these never counts as world-open by itself.
 */
export const PRIVATE_BLOCKS: readonly CidrBlock[] = /* @__PURE__ */ [
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
].flatMap((text) => parseCidr(text) ?? []);

/** True when the block lies wholly inside one of PRIVATE_BLOCKS (none of them adjoin to form a wider aligned block). */
export function isPrivateBlock(block: CidrBlock): boolean {
  return PRIVATE_BLOCKS.some((privateBlock) => isWithin(block, privateBlock));
}

const bitLength = (value: bigint) => value.toString(2).length;

/**
 * The union of blocks of one family as the fewest CIDR blocks: every aligned block that lies inside the union
 * lies inside one of these, so "does the union hold a block wider than /N" is a question about these alone.
 * @example unionBlocks([0.0.0.0/1, 128.0.0.0/2, 192.0.0.0/2]) is [0.0.0.0/0]
 */
export function unionBlocks(blocks: readonly CidrBlock[]): CidrBlock[] {
  const first = blocks[0];
  if (!first) return [];
  const bits = BITS[first.family];
  const sorted = [...blocks].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const merged: { first: bigint; last: bigint }[] = [];
  for (const block of sorted) {
    const previous = merged.at(-1);
    // biome-ignore lint/complexity/useMathMinMax: bigints, which Math.max refuses
    if (previous && block.first <= previous.last + 1n) previous.last = block.last > previous.last ? block.last : previous.last;
    else merged.push({ first: block.first, last: block.last });
  }
  const result: CidrBlock[] = [];
  for (const { first: start, last } of merged) {
    let at = start;
    while (at <= last) {
      // The widest block aligned at `at` (its trailing zero bits) that still ends inside the interval.
      const hostBits = Math.min(at === 0n ? bits : bitLength(at & -at) - 1, bitLength(last - at + 1n) - 1);
      result.push(blockAt(first.family, at, bits - hostBits));
      at += 1n << BigInt(hostBits);
    }
  }
  return result;
}
