import { describe, expect, it } from 'vitest';
import {
  cidrShape,
  formatCidr,
  isAddressInCidr,
  isPrivateBlock,
  parseCidr,
  parseIp,
  PRIVATE_BLOCKS,
  unionBlocks,
  type CidrBlock,
} from '../../../shared/net/cidr.js';

const block = (text: string): CidrBlock => {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`test CIDR ${text} does not parse`);
  return parsed;
};
const union = (...texts: string[]) => unionBlocks(texts.map(block)).map(formatCidr);

describe('parseIp and parseCidr', () => {
  it.each([
    ['203.0.113.7', 4, 0xcb007107n],
    ['::', 6, 0n],
    ['::1', 6, 1n],
    ['2001:DB8::8:800:200C:417A', 6, 0x20010db80000000000080800200c417an],
    ['1:2:3:4:5:6:7:8', 6, 0x00010002000300040005000600070008n],
    ['::ffff:192.0.2.1', 6, 0xffffc0000201n],
  ])('reads %s', (text, family, value) => {
    expect(parseIp(text)).toEqual({ family, value });
  });

  it.each([
    '256.0.0.1',
    '1.2.3',
    '1.2.3.4.5',
    '1.2.3.-4',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7::8',
    ':1::',
    '12345::',
    'fe80::1%eth0',
    '1.2.3.4::',
    'anywhere',
    '',
  ])('refuses %j as an address', (text) => {
    expect(parseIp(text)).toBeUndefined();
  });

  it('clears host bits, as EC2 stores a CIDR', () => {
    expect(formatCidr(block('198.51.100.9/0'))).toBe('0.0.0.0/0');
    expect(formatCidr(block('98.51.100.9/1'))).toBe('0.0.0.0/1');
    expect(formatCidr(block('198.51.100.9/24'))).toBe('198.51.100.0/24');
    expect(formatCidr(block(' 2001:0DB8:0000:0000:0000:0000:0000:0001/32 '))).toBe('2001:db8::/32');
    expect(block('128.0.0.0/1')).toEqual({ family: 4, prefix: 1, first: 0x80000000n, last: 0xffffffffn });
  });

  it('spells IPv6 as RFC 5952 does: the longest zero run compressed, the first on a tie, never a single group', () => {
    expect(formatCidr(block('2001:db8:0:0:1:0:0:1/128'))).toBe('2001:db8::1:0:0:1/128');
    expect(formatCidr(block('2001:db8:0:1:1:1:1:1/128'))).toBe('2001:db8:0:1:1:1:1:1/128');
    expect(formatCidr(block('::/0'))).toBe('::/0');
    expect(formatCidr(block('8000::/1'))).toBe('8000::/1');
  });

  it.each(['0.0.0.0/33', '::/129', '0.0.0.0', '0.0.0.0/', '0.0.0.0/-1', '0.0.0.0/1/2', '300.0.0.0/8', 'a.b.c.d/8', '0.0.0.0/0001'])(
    'refuses %j as a CIDR',
    (text) => {
      expect(parseCidr(text)).toBeUndefined();
    },
  );
});

describe('cidrShape', () => {
  it('reads the family and prefix without reading the address, and refuses a prefix past the family', () => {
    expect(cidrShape(' 0.0.0.0/1 ')).toEqual({ address: '0.0.0.0', family: 4, prefix: 1 });
    expect(cidrShape('2001:db8::/32')).toEqual({ address: '2001:db8::', family: 6, prefix: 32 });
    expect(['0.0.0.0/33', '::/129', '203.0.113.7', 'arn:aws:iam::111122223333:role/x', '*/8'].map(cidrShape)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });
});

describe('isAddressInCidr', () => {
  it('places an address in its block, in either family, and nowhere else', () => {
    expect(isAddressInCidr('203.0.113.7', '203.0.113.0/24')).toBe(true);
    expect(isAddressInCidr('203.0.114.7', '203.0.113.0/24')).toBe(false);
    expect(isAddressInCidr('2001:db8::1', '2001:db8::/32')).toBe(true);
    expect(isAddressInCidr('2001:db9::1', '2001:db8::/32')).toBe(false);
    expect(isAddressInCidr('203.0.113.7', '::/0')).toBe(false);
    expect(isAddressInCidr('not-an-ip', '0.0.0.0/0')).toBe(false);
  });
});

describe('unionBlocks', () => {
  it.each([
    [['0.0.0.0/1', '128.0.0.0/1'], ['0.0.0.0/0']],
    [['0.0.0.0/2', '64.0.0.0/2', '128.0.0.0/2', '192.0.0.0/2'], ['0.0.0.0/0']],
    [['0.0.0.0/1', '128.0.0.0/2', '192.0.0.0/2'], ['0.0.0.0/0']],
    [['::/1', '8000::/1'], ['::/0']],
    [['192.0.0.0/2', '0.0.0.0/1', '128.0.0.0/2', '10.0.0.0/8'], ['0.0.0.0/0']],
    [['12.0.0.0/8', '13.0.0.0/8'], ['12.0.0.0/7']],
    [
      ['11.0.0.0/8', '12.0.0.0/8'],
      ['11.0.0.0/8', '12.0.0.0/8'],
    ],
    [
      ['0.0.0.0/1', '192.0.0.0/2'],
      ['0.0.0.0/1', '192.0.0.0/2'],
    ],
    [['203.0.113.0/24', '203.0.113.128/25'], ['203.0.113.0/24']],
  ])('%j is %j', (texts, expected) => {
    expect(union(...texts)).toEqual(expected);
  });

  it('is empty for no blocks', () => {
    expect(unionBlocks([])).toEqual([]);
  });
});

describe('private blocks', () => {
  it('holds the private-use, shared, loopback and link-local ranges of both families', () => {
    expect(PRIVATE_BLOCKS.map(formatCidr)).toEqual([
      '10.0.0.0/8',
      '100.64.0.0/10',
      '127.0.0.0/8',
      '169.254.0.0/16',
      '172.16.0.0/12',
      '192.168.0.0/16',
      '::1/128',
      'fc00::/7',
      'fe80::/10',
    ]);
  });

  it('calls a block private only when it lies wholly inside one of them', () => {
    expect(['10.1.0.0/16', '172.16.0.0/12', 'fd00::/8', 'fc00::/7'].map((text) => isPrivateBlock(block(text)))).toEqual([true, true, true, true]);
    expect(['10.0.0.0/7', '172.0.0.0/8', '0.0.0.0/0', '::/0', '2001:db8::/32'].map((text) => isPrivateBlock(block(text)))).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});
