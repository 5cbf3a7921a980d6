import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../shared/errors.js';
import * as v from 'valibot';
import { isCalendarDay, loadConfig, ruleOverridesOf } from '../../../shared/config.js';
import { StoredExemption } from '../../../shared/live-config/layout.js';
import { rejectionProblem } from '../../../shared/live-config/rejection.js';

describe('the live configuration fields of the config', () => {
  it('reads the parameter prefix and the cache time from the environment, 60 s by default, no prefix by default', () => {
    expect(loadConfig({})).toMatchObject({ configMaxAgeSeconds: 60 });
    expect(loadConfig({}).parameterPrefix).toBeUndefined();
    expect(loadConfig({ TRAILGUARD_PARAMETER_PREFIX: '/trailguard/prod', TRAILGUARD_CONFIG_MAX_AGE_SECONDS: '0' })).toMatchObject({
      parameterPrefix: '/trailguard/prod',
      configMaxAgeSeconds: 0,
    });
  });

  it.each([['trailguard/prod'], ['/trailguard/'], ['/trail guard'], ['/a//b']])('refuses the prefix %j, naming the variable', (prefix) => {
    expect(() => loadConfig({ TRAILGUARD_PARAMETER_PREFIX: prefix })).toThrow(ConfigError);
    expect(() => loadConfig({ TRAILGUARD_PARAMETER_PREFIX: prefix })).toThrow(/^TRAILGUARD_PARAMETER_PREFIX: /);
  });

  it.each([['3601'], ['-1'], ['1.5'], ['soon']])('refuses the cache time %j, naming the variable', (seconds) => {
    expect(() => loadConfig({ TRAILGUARD_CONFIG_MAX_AGE_SECONDS: seconds })).toThrow(/^TRAILGUARD_CONFIG_MAX_AGE_SECONDS: /);
  });

  it("names the rules TRAILGUARD_RULES overrides: none for the stack's default {}", () => {
    expect(ruleOverridesOf({ TRAILGUARD_RULES: '{}' })).toEqual([]);
    expect(ruleOverridesOf({})).toEqual([]);
    expect(ruleOverridesOf({ TRAILGUARD_RULES: '{"untagged-instance":{"requiredTags":["Team"]},"public-bucket":{}}' })).toEqual([
      'public-bucket',
      'untagged-instance',
    ]);
  });

  // A calendar-invalid expiry compared as a string kept an exemption in force ("2026-13-01" > "2026-12-31",
  // "2099-99-99" forever) while reports called it invalid: both schemas refuse it, by one round-trip check.
  it.each([['2026-02-30'], ['2026-13-01'], ['2099-99-99'], ['2026-00-10'], ['2026-04-31'], ['2027-02-29'], ['2100-02-29']])(
    'refuses the expiry %j in an env exemption and in a stored one',
    (expires) => {
      expect(isCalendarDay(expires)).toBe(false);
      const exemptions = JSON.stringify([{ rule: 'public-bucket', resource: 'b', reason: 'r', expires }]);
      expect(() => loadConfig({ TRAILGUARD_EXEMPTIONS: exemptions })).toThrow(/^TRAILGUARD_EXEMPTIONS: .*expected a real calendar day YYYY-MM-DD/);
      const stored = v.safeParse(StoredExemption, { resource: 'b', reason: 'r', expires });
      expect(stored.success).toBe(false);
      expect(rejectionProblem(stored.issues?.[0])).toBe('expires: expected a real calendar day YYYY-MM-DD');
    },
  );

  it.each([['2026-02-28'], ['2028-02-29'], ['2000-02-29'], ['2026-12-31'], ['0001-01-01'], ['9999-12-31']])(
    'takes the real day %j in both schemas',
    (expires) => {
      expect(isCalendarDay(expires)).toBe(true);
      expect(loadConfig({ TRAILGUARD_EXEMPTIONS: JSON.stringify([{ resource: 'b', reason: 'r', expires }]) }).exemptions[0]?.expires).toBe(expires);
      expect(v.safeParse(StoredExemption, { resource: 'b', reason: 'r', expires }).success).toBe(true);
    },
  );

  it('still names a malformed expiry by its format first', () => {
    const stored = v.safeParse(StoredExemption, { resource: 'b', reason: 'r', expires: '2026-1-01' });
    expect(rejectionProblem(stored.issues?.[0])).toBe('expires: expected YYYY-MM-DD');
  });
});
