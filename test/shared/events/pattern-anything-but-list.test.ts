import { describe, expect, it } from 'vitest';
import { matchesPattern } from '../../../shared/events/pattern.js';

// Event Ruler (aws/event-ruler, JsonRuleCompiler.processAnythingButValuesSetMatchExpression) accepts a list inside
// anything-but's prefix, suffix, wildcard and equals-ignore-case: the value is excluded when any listed one matches.
const eventFrom = (sourceIPAddress: string) => ({ source: 'aws.sts', detail: { sourceIPAddress } });
const NOT_AWS = { detail: { sourceIPAddress: [{ 'anything-but': { wildcard: ['*.amazonaws.com', 'AWS Internal'] } }] } };

describe('matchesPattern: anything-but with a list inside a string operator', () => {
  it.each([
    ['an IP address', '203.0.113.7', true],
    ['a service name the first wildcard covers', 'ec2.amazonaws.com', false],
    ['the literal the second wildcard names', 'AWS Internal', false],
    ['a name only like a service (no dot before amazonaws.com)', 'evilamazonaws.com', true],
  ])('wildcard list: %s', (_name, source, expected) => {
    expect(matchesPattern(NOT_AWS, eventFrom(source))).toBe(expected);
  });

  it.each([
    ['prefix', { prefix: ['10.', '192.168.'] }, '192.168.1.4', false],
    ['prefix', { prefix: ['10.', '192.168.'] }, '203.0.113.7', true],
    ['suffix', { suffix: ['.amazonaws.com', '.amazonaws.com.cn'] }, 'ec2.amazonaws.com.cn', false],
    ['suffix', { suffix: ['.amazonaws.com', '.amazonaws.com.cn'] }, '198.51.100.1', true],
    ['equals-ignore-case', { 'equals-ignore-case': ['aws internal', 'x'] }, 'AWS Internal', false],
    ['equals-ignore-case', { 'equals-ignore-case': ['aws internal', 'x'] }, 'AWS External', true],
  ])('%s list %j on %s matches: %s', (_operator, operand, source, expected) => {
    expect(matchesPattern({ detail: { sourceIPAddress: [{ 'anything-but': operand }] } }, eventFrom(source))).toBe(expected);
  });

  it('still does not match an absent field, as any anything-but', () => {
    expect(matchesPattern(NOT_AWS, { source: 'aws.sts', detail: {} })).toBe(false);
    expect(matchesPattern(NOT_AWS, eventFrom('203.0.113.7'))).toBe(true);
  });

  it('refuses a list it cannot evaluate, instead of guessing', () => {
    expect(() => matchesPattern({ detail: { sourceIPAddress: [{ 'anything-but': { cidr: ['10.0.0.0/8'] } }] } }, eventFrom('10.0.0.1'))).toThrow(
      /no list of "cidr"/,
    );
    expect(() => matchesPattern({ detail: { sourceIPAddress: [{ 'anything-but': { prefix: [] } }] } }, eventFrom('10.0.0.1'))).toThrow(/holds strings/);
    expect(() => matchesPattern({ detail: { sourceIPAddress: [{ 'anything-but': { suffix: [1] } }] } }, eventFrom('10.0.0.1'))).toThrow(/holds strings/);
  });
});
