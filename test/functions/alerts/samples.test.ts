import { describe, expect, it } from 'vitest';
import { RULES } from '../../../functions/rules.js';
import { ALERT_RULE_IDS, parseConfig } from '../../../shared/config.js';
import { ConfigError } from '../../../shared/errors.js';
import { matchesPattern } from '../../../shared/events/pattern.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, expectedOutcome, loadSample, runSample, sampleNames } from '../../helpers/samples.js';

// Every audit alert's samples, offline: the outcome is the file name's prefix, and every alert's
// notification answers who, what, when, from where, and what to check next.
const ALERT_RULES = RULES.filter((rule) => (ALERT_RULE_IDS as readonly string[]).includes(rule.id));

describe.each(ALERT_RULES.map((rule) => [rule.id, rule] as const))('%s samples, offline', (ruleId, rule) => {
  it.each(sampleNames(ruleId))('%s ends as its name says', async (name) => {
    const { record, deps } = await runSample(rule, name);
    expect(record.outcome, record.reason).toBe(expectedOutcome(name));
    if (record.outcome !== 'alerted') return;
    expect(record.severity).not.toBeNull();
    expect(record.actions).toEqual([]);
    const [notification] = deps.published;
    expect(deps.published).toHaveLength(1);
    for (const part of ['Actor: ', 'Call: ', 'Source IP: ', 'Account: ', 'Check next: ', `Reason: `]) expect(notification?.text).toContain(part);
    expect(notification?.text.split('\n').length).toBeLessThanOrEqual(30);
  });
});

it('covers every audit alert id with a rule', () => {
  expect(ALERT_RULES.map((rule) => rule.id).sort()).toEqual([...ALERT_RULE_IDS].sort());
});

describe('audit alert settings', () => {
  it('default to on, 5 failures in 15 minutes, AdministratorAccess and IAMFullAccess, service-linked roles ignored', () => {
    const rules = parseConfig({}).rules;
    expect(rules['root-activity']).toEqual({ enabled: true });
    expect(rules['console-signin-failures']).toEqual({ enabled: true, threshold: 5, windowMinutes: 15 });
    expect(rules['iam-policy-change'].adminPolicyArns).toEqual(['arn:aws:iam::aws:policy/AdministratorAccess', 'arn:aws:iam::aws:policy/IAMFullAccess']);
    expect(rules['network-change']).toEqual({ enabled: true, ignoreServiceLinkedRoles: true });
  });

  it('rejects unknown keys, a threshold below 2, and an administrator policy that is no policy ARN', () => {
    expect(() => parseConfig({ rules: { 'root-activity': { enabled: true, ignoreServiceLinkedRoles: true } } })).toThrow(ConfigError);
    expect(() => parseConfig({ rules: { 'console-signin-failures': { threshold: 1 } } })).toThrow('config.rules.console-signin-failures.threshold');
    expect(() => parseConfig({ rules: { 'iam-policy-change': { adminPolicyArns: ['AdministratorAccess'] } } })).toThrow('expected an IAM policy ARN');
  });
});

// The README's replay runs every rule whose pattern matches an event, not only the folder's own rule: a root
// CreateAccessKey is also an iam-policy-change, a CloudTrail bucket's DeleteBucket may match others. No bundled
// sample may end `failed` (unreadable) in any rule that sees it.
describe('every bundled sample, through every rule whose pattern matches it', () => {
  const samples = RULES.flatMap((own) => sampleNames(own.id).map((name) => [own.id, name] as const));
  it.each(samples)('%s/%s is read by every matching rule', async (ownId, name) => {
    const event = loadSample(ownId, name);
    for (const rule of RULES.filter((candidate) => matchesPattern(candidate.pattern, event))) {
      const record = await run(rule, event, capturingDeps());
      expect(record.outcome, `${rule.id}: ${record.reason}`).not.toBe('failed');
    }
  });
});
