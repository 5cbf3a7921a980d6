import { describe, expect, it } from 'vitest';
import { eachRecord, RULE_SHARE } from '../../../bench/cloudtrail-log.js';
import { readInputs } from '../../../cli/inputs.js';
import { RULES } from '../../../functions/rules.js';
import { matchesPattern, PatternIndex, type EventPattern } from '../../../shared/events/pattern.js';
import { toEnvelopeJson, wrapRecord } from '../../../shared/events/schema.js';
import { EVENTS_DIR } from '../../helpers/samples.js';

/** What routing did before the index: every pattern tested, in order. */
const byEveryPattern = <T>(items: readonly T[], patternOf: (item: T) => EventPattern, event: unknown) =>
  items.filter((item) => matchesPattern(patternOf(item), event));

const ruleIndex = new PatternIndex(RULES, (rule) => rule.pattern);
const ids = (rules: readonly { id: string }[]) => rules.map((rule) => rule.id);

describe('PatternIndex gives the matches of testing every pattern', () => {
  it('over every bundled event', async () => {
    let events = 0;
    let matched = 0;
    for await (const item of readInputs([EVENTS_DIR])) {
      if (item.kind !== 'event') continue;
      const json = toEnvelopeJson(item.value);
      const expected = ids(byEveryPattern(RULES, (rule) => rule.pattern, json));
      expect(ids(ruleIndex.matching(json)), item.source).toEqual(expected);
      events += 1;
      if (expected.length > 0) matched += 1;
    }
    // The comparison means something only if the samples hit rules, most of them.
    expect(events).toBeGreaterThan(100);
    expect(matched).toBeGreaterThan(events / 2);
  });

  it('over generated records (mostly calls no rule lists)', () => {
    let unmatched = 0;
    for (const { record } of eachRecord(5000, ids(RULES), 7)) {
      const json = toEnvelopeJson(record);
      const expected = ids(byEveryPattern(RULES, (rule) => rule.pattern, json));
      expect(ids(ruleIndex.matching(json))).toEqual(expected);
      if (expected.length === 0) unmatched += 1;
    }
    // RULE_SHARE per rule comes from its samples, so the unmatched share falls by that much with each new rule.
    expect(unmatched / 5000).toBeGreaterThan(Math.max(0.5, 1 - RULE_SHARE * RULES.length - 0.02));
  });

  // Shapes the index must not trust: it tests every pattern (or only the unindexed ones) and so still agrees.
  const root = { type: 'Root', arn: 'arn:aws:iam::111122223333:root' };
  const odd: [string, unknown][] = [
    ['an event name in a list', { ...envelope('PutBucketAcl'), detail: { eventSource: 's3.amazonaws.com', eventName: ['PutBucketAcl'] } }],
    ['detail as an array', { ...envelope('PutBucketAcl'), detail: [{ eventSource: 's3.amazonaws.com', eventName: 'PutBucketAcl' }] }],
    ['no detail', { source: 'aws.s3', 'detail-type': 'AWS API Call via CloudTrail' }],
    ['no event name, a root caller', { ...envelope('x'), detail: { eventSource: 's3.amazonaws.com', userIdentity: root } }],
    ['a numeric event name', { ...envelope('x'), detail: { eventSource: 's3.amazonaws.com', eventName: 7 } }],
    [
      'an unlisted name, a root caller',
      { ...envelope('ListBuckets'), detail: { eventSource: 's3.amazonaws.com', eventName: 'ListBuckets', userIdentity: root } },
    ],
    [
      'a listed name, a root caller',
      { ...envelope('PutBucketAcl'), detail: { eventSource: 's3.amazonaws.com', eventName: 'PutBucketAcl', userIdentity: root } },
    ],
    ['__proto__ as the name', { ...envelope('x'), detail: { eventSource: 's3.amazonaws.com', eventName: '__proto__' } }],
    ['not an object', ['PutBucketAcl']],
    ['null', null],
  ];
  it.each(odd)('for %s', (_, event) => {
    expect(ids(ruleIndex.matching(event))).toEqual(ids(byEveryPattern(RULES, (rule) => rule.pattern, event)));
  });

  it('keeps the order given, unindexed patterns (no plain name list) among indexed ones', () => {
    const patterns: { id: string; pattern: EventPattern }[] = [
      { id: 'any-prefix', pattern: { detail: { eventName: [{ prefix: 'Put' }] } } },
      { id: 'put-acl', pattern: { detail: { eventName: ['PutBucketAcl', 'PutBucketPolicy'] } } },
      { id: 'no-detail', pattern: { source: ['aws.s3'] } },
      { id: 'empty-list', pattern: { detail: { eventName: [] } } },
      { id: 'acl-again', pattern: { detail: { eventName: ['PutBucketAcl'], eventSource: ['s3.amazonaws.com'] } } },
      { id: 'absent-name', pattern: { detail: { eventName: [{ exists: false }] } } },
    ];
    const index = new PatternIndex(patterns, (p) => p.pattern);
    const events = [envelope('PutBucketAcl'), envelope('PutBucketPolicy'), envelope('GetObject'), { source: 'aws.s3', detail: {} }, odd[0]?.[1], odd[1]?.[1]];
    for (const event of events) expect(ids(index.matching(event))).toEqual(ids(byEveryPattern(patterns, (p) => p.pattern, event)));
    expect(ids(index.matching(envelope('PutBucketAcl')))).toEqual(['any-prefix', 'put-acl', 'no-detail', 'acl-again']);
    expect(ids(index.matching({ source: 'aws.s3', detail: {} }))).toEqual(['no-detail', 'absent-name']);
  });
});

function envelope(eventName: string) {
  return toEnvelopeJson(
    wrapRecord({
      eventVersion: '1.09',
      eventTime: '2026-11-20T09:00:00Z',
      eventSource: 's3.amazonaws.com',
      eventName,
      awsRegion: 'eu-west-1',
      sourceIPAddress: '203.0.113.10',
      userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333' },
      recipientAccountId: '111122223333',
    }),
  ) as Record<string, unknown>;
}
