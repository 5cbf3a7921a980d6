import { describe, expect, it } from 'vitest';
import { worldOpenRules } from '../../../shared/ec2/world-open-set.js';
import { DEFAULT_WORLD_OPEN_PREFIX } from '../../../shared/config.js';
import { isViolating, type CidrRule, type WorldOpenPolicy } from '../../../shared/ec2/world-open.js';

const POLICY: WorldOpenPolicy = {
  allowedWorldPorts: [
    { protocol: 'tcp', port: 80 },
    { protocol: 'tcp', port: 443 },
  ],
  worldOpenPrefix: DEFAULT_WORLD_OPEN_PREFIX,
};
// Only a /0 is the world by itself: what is left is the set semantics alone.
const SLASH_ZERO_ONLY: WorldOpenPolicy = { ...POLICY, worldOpenPrefix: { ipv4: 1, ipv6: 1 } };

let counter = 0;
const rule = (protocol: string, fromPort: number, toPort: number, cidr: string): CidrRule => {
  counter += 1;
  return { ruleId: `sgr-${String(counter).padStart(17, '0')}`, protocol, fromPort, toPort, cidr, description: undefined };
};
const ssh = (cidr: string) => rule('tcp', 22, 22, cidr);
const cidrsOf = (rules: readonly CidrRule[]) => rules.map((r) => r.cidr);

describe('worldOpenRules: one range', () => {
  it('counts a range wider than the prefix, and not the prefix itself', () => {
    const rules = [ssh('0.0.0.0/1'), ssh('64.0.0.0/4'), ssh('12.0.0.0/7'), ssh('11.0.0.0/8'), ssh('2000::/15'), ssh('2001::/16')];
    expect(cidrsOf(worldOpenRules(rules, POLICY))).toEqual(['0.0.0.0/1', '64.0.0.0/4', '12.0.0.0/7', '2000::/15']);
  });

  it('never counts a private range by itself, however wide', () => {
    const wide = { ...POLICY, worldOpenPrefix: { ipv4: 16, ipv6: 48 } };
    const rules = [ssh('10.0.0.0/8'), ssh('172.16.0.0/12'), ssh('100.64.0.0/10'), ssh('fc00::/7'), ssh('fe80::/10')];
    expect(worldOpenRules(rules, wide)).toEqual([]);
    expect(cidrsOf(worldOpenRules([...rules, ssh('11.0.0.0/12')], wide))).toEqual(['11.0.0.0/12']);
  });

  it('keeps the allowed ports open however wide the source, and only when every port of the range is allowed', () => {
    expect(worldOpenRules([rule('tcp', 443, 443, '0.0.0.0/0'), rule('tcp', 80, 80, '::/0')], POLICY)).toEqual([]);
    expect(cidrsOf(worldOpenRules([rule('tcp', 80, 81, '0.0.0.0/1')], POLICY))).toEqual(['0.0.0.0/1']);
    expect(cidrsOf(worldOpenRules([rule('udp', 443, 443, '0.0.0.0/0')], POLICY))).toEqual(['0.0.0.0/0']);
    expect(isViolating(rule('-1', -1, -1, '0.0.0.0/1'), POLICY.allowedWorldPorts)).toBe(true);
    expect(isViolating(rule('tcp', 443, 443, '0.0.0.0/1'), POLICY.allowedWorldPorts)).toBe(false);
  });
});

describe('worldOpenRules: a set of ranges for the same traffic', () => {
  it('measures only the public part: a private range never widens its public neighbour', () => {
    // 10.0.0.0/8 + 11.0.0.0/8 is a /7 of which one /8 is public: the /8 alone is allowed, so is the pair.
    expect(worldOpenRules([ssh('10.0.0.0/8'), ssh('11.0.0.0/8')], POLICY)).toEqual([]);
    expect(worldOpenRules([ssh('126.0.0.0/8'), ssh('127.0.0.0/8')], POLICY)).toEqual([]);
    expect(worldOpenRules([ssh('10.0.0.0/7')], POLICY)).toEqual([]);
    const sixteen = { ...POLICY, worldOpenPrefix: { ipv4: 16, ipv6: 48 } };
    expect(worldOpenRules([ssh('192.168.0.0/16'), ssh('192.169.0.0/16')], sixteen)).toEqual([]);
    // Public ranges still add up around a private one: 8/8 + 9/8 + 10/8 + 11/8 is 8.0.0.0/6, three public /8s.
    expect(cidrsOf(worldOpenRules([ssh('8.0.0.0/8'), ssh('9.0.0.0/8'), ssh('10.0.0.0/8'), ssh('11.0.0.0/8')], POLICY))).toEqual([
      '8.0.0.0/8',
      '9.0.0.0/8',
      '11.0.0.0/8',
    ]);
  });

  it.each([
    ['the two IPv4 halves', ['0.0.0.0/1', '128.0.0.0/1']],
    ['four /2s', ['0.0.0.0/2', '64.0.0.0/2', '128.0.0.0/2', '192.0.0.0/2']],
    ['a /1 and two /2s', ['0.0.0.0/1', '128.0.0.0/2', '192.0.0.0/2']],
    ['the two IPv6 halves', ['::/1', '8000::/1']],
  ])('counts %s, whose union is the whole internet, when only a /0 counts alone', (_, cidrs) => {
    const rules = cidrs.map(ssh);
    expect(cidrsOf(worldOpenRules(rules, SLASH_ZERO_ONLY))).toEqual(cidrs);
    expect(worldOpenRules(rules.slice(1), SLASH_ZERO_ONLY)).toEqual([]);
  });

  it('counts two /8s that make a /7, which neither is alone', () => {
    expect(cidrsOf(worldOpenRules([ssh('12.0.0.0/8'), ssh('13.0.0.0/8')], POLICY))).toEqual(['12.0.0.0/8', '13.0.0.0/8']);
    expect(worldOpenRules([ssh('11.0.0.0/8'), ssh('12.0.0.0/8')], POLICY)).toEqual([]);
  });

  it('leaves out a narrower range nested in a world-open one, and a private range never completes a block', () => {
    const office = ssh('203.0.113.0/24');
    const lab = ssh('10.0.0.0/8');
    expect(cidrsOf(worldOpenRules([ssh('0.0.0.0/1'), office, ssh('128.0.0.0/1'), ssh('198.51.100.7/32')], SLASH_ZERO_ONLY))).toEqual([
      '0.0.0.0/1',
      '128.0.0.0/1',
    ]);
    expect(worldOpenRules([lab, ssh('11.0.0.0/8')], POLICY)).toEqual([]);
  });

  it('adds up ranges of overlapping port ranges and of all-traffic rules, but not of another protocol or port', () => {
    expect(cidrsOf(worldOpenRules([ssh('0.0.0.0/1'), rule('tcp', 20, 25, '128.0.0.0/1')], SLASH_ZERO_ONLY))).toEqual(['0.0.0.0/1', '128.0.0.0/1']);
    expect(cidrsOf(worldOpenRules([ssh('0.0.0.0/1'), rule('-1', -1, -1, '128.0.0.0/1')], SLASH_ZERO_ONLY))).toEqual(['0.0.0.0/1', '128.0.0.0/1']);
    expect(worldOpenRules([ssh('0.0.0.0/1'), rule('udp', 22, 22, '128.0.0.0/1')], SLASH_ZERO_ONLY)).toEqual([]);
    expect(worldOpenRules([ssh('0.0.0.0/1'), rule('tcp', 23, 25, '128.0.0.0/1')], SLASH_ZERO_ONLY)).toEqual([]);
    expect(worldOpenRules([ssh('0.0.0.0/1'), ssh('::/1'), ssh('128.0.0.0/2'), ssh('8000::/2')], SLASH_ZERO_ONLY)).toEqual([]);
  });

  it('counts a set only on traffic configuration does not allow', () => {
    const https = [rule('tcp', 443, 443, '0.0.0.0/1'), rule('tcp', 443, 443, '128.0.0.0/1')];
    expect(worldOpenRules(https, SLASH_ZERO_ONLY)).toEqual([]);
    // The union is the world on 443 only (allowed): the 0-1024 range is not world-open by itself.
    expect(worldOpenRules([rule('tcp', 0, 1024, '0.0.0.0/1'), rule('tcp', 443, 443, '128.0.0.0/1')], SLASH_ZERO_ONLY)).toEqual([]);
    expect(cidrsOf(worldOpenRules([rule('tcp', 0, 1024, '0.0.0.0/1'), rule('tcp', 22, 443, '128.0.0.0/1')], SLASH_ZERO_ONLY))).toEqual([
      '0.0.0.0/1',
      '128.0.0.0/1',
    ]);
  });

  it('adds up ICMP by type and code: all types cover one type, one type covers all its codes', () => {
    const echo = rule('icmp', 8, 0, '0.0.0.0/1');
    expect(cidrsOf(worldOpenRules([echo, rule('icmp', -1, -1, '128.0.0.0/1')], SLASH_ZERO_ONLY))).toEqual(['0.0.0.0/1', '128.0.0.0/1']);
    expect(cidrsOf(worldOpenRules([echo, rule('icmp', 8, -1, '128.0.0.0/1')], SLASH_ZERO_ONLY))).toEqual(['0.0.0.0/1', '128.0.0.0/1']);
    expect(worldOpenRules([echo, rule('icmp', 3, -1, '128.0.0.0/1')], SLASH_ZERO_ONLY)).toEqual([]);
    expect(worldOpenRules([echo, rule('icmpv6', 8, 0, '128.0.0.0/1')], SLASH_ZERO_ONLY)).toEqual([]);
  });

  it('judges a group as full as EC2 allows (1,000 rules, nested ports, sources adding up to the world) within seconds', () => {
    // Every port segment holds a different set of rules whose /8s add up to the whole of IPv4.
    const rules = Array.from({ length: 1000 }, (_, i) => rule('tcp', i, 65535 - i, `${i % 256}.0.0.0/8`));
    const started = performance.now();
    const open = worldOpenRules(rules, POLICY);
    expect(performance.now() - started).toBeLessThan(5000);
    // All but the eight from 10/8 and 127/8 (four each), which are private.
    expect(open).toHaveLength(992);
    expect(cidrsOf(open)).not.toContain('10.0.0.0/8');
    expect(cidrsOf(open)).toContain('11.0.0.0/8');
  });
});
