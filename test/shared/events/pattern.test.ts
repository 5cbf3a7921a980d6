import { describe, expect, it } from 'vitest';
import { matchesPattern } from '../../../shared/events/pattern.js';

const event = {
  source: 'aws.ec2',
  'detail-type': 'AWS API Call via CloudTrail',
  detail: {
    eventName: 'AuthorizeSecurityGroupIngress',
    eventSource: 'ec2.amazonaws.com',
    sourceIPAddress: '203.0.113.10',
    userIdentity: { type: 'AssumedRole', arn: 'arn:aws:sts::111122223333:assumed-role/Admin/alice' },
    requestParameters: { fromPort: 22, tags: ['a', 'b'], ipPermissions: { items: [{ ipProtocol: 'tcp' }, { ipProtocol: '-1' }] } },
    errorCode: null,
  },
};

describe('matchesPattern, with EventBridge semantics', () => {
  it.each([
    ['exact values, any of a list', { source: ['aws.s3', 'aws.ec2'] }, true],
    ['exact value mismatch', { source: ['aws.s3'] }, false],
    ['nested fields', { detail: { eventName: ['AuthorizeSecurityGroupIngress'] } }, true],
    ['prefix', { detail: { eventSource: [{ prefix: 'ec2.' }] } }, true],
    ['prefix mismatch', { detail: { eventSource: [{ prefix: 's3.' }] } }, false],
    ['prefix ignoring case', { detail: { eventName: [{ prefix: { 'equals-ignore-case': 'authorize' } }] } }, true],
    ['suffix', { detail: { eventSource: [{ suffix: '.amazonaws.com' }] } }, true],
    ['equals-ignore-case', { detail: { eventName: [{ 'equals-ignore-case': 'authorizesecuritygroupingress' }] } }, true],
    ['wildcard', { detail: { userIdentity: { arn: [{ wildcard: 'arn:aws:sts::*:assumed-role/Admin/*' }] } } }, true],
    ['anything-but a value', { source: [{ 'anything-but': 'aws.s3' }] }, true],
    ['anything-but a list that contains the value', { source: [{ 'anything-but': ['aws.s3', 'aws.ec2'] }] }, false],
    ['anything-but prefix', { detail: { eventName: [{ 'anything-but': { prefix: 'Describe' } }] } }, true],
    ['anything-but does not match an absent field', { detail: { missing: [{ 'anything-but': 'x' }] } }, false],
    ['numeric range', { detail: { requestParameters: { fromPort: [{ numeric: ['>=', 0, '<', 1024] }] } } }, true],
    ['numeric out of range', { detail: { requestParameters: { fromPort: [{ numeric: ['>', 22] }] } } }, false],
    ['exists true on a present field', { detail: { eventName: [{ exists: true }] } }, true],
    ['exists false on an absent field', { detail: { missing: [{ exists: false }] } }, true],
    ['exists false on a present field', { detail: { eventName: [{ exists: false }] } }, false],
    ['null matches a null value', { detail: { errorCode: [null] } }, true],
    ['cidr', { detail: { sourceIPAddress: [{ cidr: '203.0.113.0/24' }] } }, true],
    ['cidr outside', { detail: { sourceIPAddress: [{ cidr: '198.51.100.0/24' }] } }, false],
    ['array values match when any element does', { detail: { requestParameters: { tags: ['b'] } } }, true],
    ['arrays of objects match when any element does', { detail: { requestParameters: { ipPermissions: { items: { ipProtocol: ['-1'] } } } } }, true],
    ['$or: one alternative matches', { $or: [{ source: ['aws.s3'] }, { detail: { eventName: ['AuthorizeSecurityGroupIngress'] } }] }, true],
    ['$or: no alternative matches', { $or: [{ source: ['aws.s3'] }, { source: ['aws.iam'] }] }, false],
    ['a nested pattern on an absent object', { detail: { responseElements: { x: ['y'] } } }, false],
  ])('%s', (_name, pattern, expected) => {
    expect(matchesPattern(pattern, event)).toBe(expected);
  });

  it('throws on an operator it does not know, instead of guessing', () => {
    expect(() => matchesPattern({ source: [{ 'starts-with': 'aws.' }] }, event)).toThrow(/unsupported pattern operator/);
  });

  it('does not match a non-object event', () => {
    expect(matchesPattern({ source: ['aws.s3'] }, 'aws.s3')).toBe(false);
  });
});
