import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config.js';
import { findExemption, matchesGlob } from '../../shared/exemptions.js';

describe('matchesGlob', () => {
  it('matches the whole value, case-sensitively, with * for any run and ? for one character', () => {
    expect(matchesGlob('example-*', 'example-logs')).toBe(true);
    expect(matchesGlob('example-*', 'example-')).toBe(true);
    expect(matchesGlob('example-*', 'my-example-logs')).toBe(false);
    expect(matchesGlob('Example-*', 'example-logs')).toBe(false);
    expect(matchesGlob('sg-0?', 'sg-01')).toBe(true);
    expect(matchesGlob('sg-0?', 'sg-0')).toBe(false);
    expect(matchesGlob('sg-0?', 'sg-012')).toBe(false);
    expect(matchesGlob('*-logs-*-eu', 'a-logs-b-logs-eu')).toBe(true);
    expect(matchesGlob('*-logs-*-eu', 'a-logs-eu')).toBe(false);
  });

  it('takes regex characters literally', () => {
    expect(matchesGlob('a.b(c)+[d]', 'a.b(c)+[d]')).toBe(true);
    expect(matchesGlob('a.b', 'axb')).toBe(false);
    expect(matchesGlob('^x$', '^x$')).toBe(true);
  });

  it('does not let the prefix and the suffix overlap', () => {
    expect(matchesGlob('ab*ba', 'aba')).toBe(false);
    expect(matchesGlob('ab*ba', 'abba')).toBe(true);
  });

  it("settles the audit's backtracking glob against a 63-character name in milliseconds", () => {
    const name = 'a'.repeat(63);
    const started = performance.now();
    const matched = matchesGlob('*a*a*a*a*a*a*a*b', name);
    const elapsed = performance.now() - started;
    expect(matched).toBe(false);
    expect(matchesGlob('*a*a*a*a*a*a*a*a', name)).toBe(true);
    expect(elapsed).toBeLessThan(50);
  });

  it('stays fast on the worst globs for a greedy matcher: many stars and ?-runs against long names', () => {
    const name = `${'ab'.repeat(500)}c`;
    const globs = ['*a?*a?*a?*a?*a?*a?*a?*a?*a?*d', `*${'?'.repeat(50)}*${'?'.repeat(50)}*x`, `${'*a'.repeat(200)}*d`];
    const started = performance.now();
    const results = globs.map((glob) => matchesGlob(glob, name));
    expect(results).toEqual([false, false, false]);
    expect(matchesGlob(`${'*a'.repeat(200)}*c`, name)).toBe(true);
    expect(performance.now() - started).toBeLessThan(50);
  });
});

describe('findExemption', () => {
  const exemptions = parseConfig({ exemptions: [{ rule: 'public-bucket', resource: '*a*a*a*a*a*a*a*b', reason: 'audit glob' }] }).exemptions;

  it('does not hang on a hostile glob, and still matches the names it names', () => {
    const started = performance.now();
    const none = findExemption(exemptions, 'public-bucket', { type: 'AWS::S3::Bucket', id: 'a'.repeat(63) }, '2026-11-25');
    expect(performance.now() - started).toBeLessThan(50);
    expect(none).toBeUndefined();
    expect(findExemption(exemptions, 'public-bucket', { type: 'AWS::S3::Bucket', id: `${'a'.repeat(62)}b` }, '2026-11-25')).toEqual({
      resource: `${'a'.repeat(62)}b`,
      reason: 'audit glob',
      expires: null,
    });
  });
});

describe('findExemption over many rules', () => {
  const { exemptions } = parseConfig({
    exemptions: [
      { rule: 'open-security-group', resource: 'shared-*', reason: 'another rule' },
      { rule: '*', resource: 'shared-old', reason: 'every rule, expired', expires: '2026-01-31' },
      { rule: 'public-bucket', resource: 'shared-*', reason: 'the bucket rule, first' },
      { rule: '*', resource: 'shared-site', reason: 'every rule, after it' },
      { rule: 'public-bucket', resource: 'web', reason: 'by name' },
    ],
  });

  it('returns the first match in configured order among the rule and * exemptions, skipping other rules and the expired', () => {
    expect(findExemption(exemptions, 'public-bucket', { type: 'AWS::S3::Bucket', id: 'shared-site' }, '2026-12-07')?.reason).toBe('the bucket rule, first');
    expect(findExemption(exemptions, 'trail-logging', { type: 'AWS::CloudTrail::Trail', id: 'shared-site' }, '2026-12-07')?.reason).toBe(
      'every rule, after it',
    );
    expect(findExemption(exemptions, 'trail-logging', { type: 'AWS::CloudTrail::Trail', id: 'shared-old' }, '2026-12-07')).toBeUndefined();
    expect(findExemption(exemptions, 'trail-logging', { type: 'AWS::CloudTrail::Trail', id: 'shared-old' }, '2026-01-31')?.reason).toBe('every rule, expired');
    expect(findExemption(exemptions, 'untagged-instance', { type: 'AWS::EC2::Instance', id: 'shared-x' }, '2026-12-07')).toBeUndefined();
  });

  it("matches a resource's name as well as its id", () => {
    expect(findExemption(exemptions, 'public-bucket', { type: 'AWS::S3::Bucket', id: 'arn-like-id', name: 'web' }, '2026-12-07')?.reason).toBe('by name');
  });
});
