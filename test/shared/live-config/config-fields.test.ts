import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../shared/errors.js';
import { loadConfig, ruleOverridesOf } from '../../../shared/config.js';

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
});
