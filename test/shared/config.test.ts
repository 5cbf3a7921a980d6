import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../shared/config.js';
import { ConfigError } from '../../shared/errors.js';

describe('configuration', () => {
  it('defaults to live mode with the documented rule settings', () => {
    const config = parseConfig({});
    expect(config.mode).toBe('live');
    expect(config.rules['open-security-group'].allowedWorldPorts).toEqual([
      { protocol: 'tcp', port: 80 },
      { protocol: 'tcp', port: 443 },
    ]);
    expect(config.rules['untagged-instance'].requiredTags).toEqual(['Owner']);
    expect(config.rules['trail-logging'].restore).toEqual({ logFileValidation: true, multiRegion: true, globalServiceEvents: false, managementEvents: false });
    expect(() => parseConfig({ rules: { 'trail-logging': { restore: { kmsKey: true } } } })).toThrow(/restore/);
  });

  it('maps TRAILGUARD_* variables, JSON and lists included', () => {
    const config = loadConfig({
      TRAILGUARD_MODE: 'dry-run',
      TRAILGUARD_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111122223333:trailguard-prod-alerts',
      TRAILGUARD_SELF_ROLES: 'trailguard-prod-*-role, other-role',
      TRAILGUARD_EXEMPTIONS: '[{"resource":"example-*","reason":"sandbox","expires":"2027-01-31"}]',
      TRAILGUARD_RULES: '{"untagged-instance":{"requiredTags":["Owner","CostCenter"]}}',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
    });
    expect(config).toMatchObject({
      mode: 'dry-run',
      selfRoles: ['trailguard-prod-*-role', 'other-role'],
      exemptions: [{ rule: '*', resource: 'example-*', reason: 'sandbox', expires: '2027-01-31' }],
      endpoint: 'http://127.0.0.1:5000',
    });
    expect(config.rules['untagged-instance'].requiredTags).toEqual(['Owner', 'CostCenter']);
  });

  it('names the variable of a bad mode', () => {
    expect(() => loadConfig({ TRAILGUARD_MODE: 'yolo' })).toThrow(ConfigError);
    expect(() => loadConfig({ TRAILGUARD_MODE: 'yolo' })).toThrow(/^TRAILGUARD_MODE: /);
  });

  it('names the variable and says why for JSON that does not parse', () => {
    expect(() => loadConfig({ TRAILGUARD_EXEMPTIONS: '[{' })).toThrow(/^TRAILGUARD_EXEMPTIONS: not valid JSON/);
  });

  it('rejects unknown keys instead of ignoring a typo', () => {
    expect(() => parseConfig({ rules: { 'public-bucket': { enable: false } } })).toThrow(/config\.rules\.public-bucket/);
    expect(() => parseConfig({ exemption: [] })).toThrow(ConfigError);
  });

  it('rejects an exemption without a reason or with a malformed expiry', () => {
    expect(() => parseConfig({ exemptions: [{ resource: 'x', reason: '' }] })).toThrow(/exemptions\.0\.reason/);
    expect(() => parseConfig({ exemptions: [{ resource: 'x', reason: 'r', expires: '31/01/2027' }] })).toThrow(/expected YYYY-MM-DD/);
  });

  it('rejects a topic that is not an SNS ARN', () => {
    expect(() => loadConfig({ TRAILGUARD_TOPIC_ARN: 'alerts' })).toThrow(/^TRAILGUARD_TOPIC_ARN: expected an SNS topic ARN/);
  });

  it('refuses required tags in the reserved aws: namespace', () => {
    expect(() => parseConfig({ rules: { 'untagged-instance': { requiredTags: ['aws:owner'] } } })).toThrow(/aws: is reserved/);
  });
});

describe('organisation mode in the configuration', () => {
  it('is off unless configured: single-account mode needs no setting', () => {
    expect(parseConfig({}).organization).toBeUndefined();
    expect(loadConfig({ TRAILGUARD_MODE: 'live' }).organization).toBeUndefined();
  });

  it('reads the organisation from its variables, with the default member role name', () => {
    const config = loadConfig({ TRAILGUARD_ORG_ID: 'o-exampleorg1', TRAILGUARD_CENTRAL_ACCOUNT_ID: '111122223333', TRAILGUARD_MEMBER_ROLE_NAME: '' });
    expect(config.organization).toEqual({ organizationId: 'o-exampleorg1', centralAccountId: '111122223333', memberRoleName: 'trailguard-remediation' });
    const withAll = loadConfig({
      TRAILGUARD_ORG_ID: 'o-exampleorg1',
      TRAILGUARD_CENTRAL_ACCOUNT_ID: '111122223333',
      TRAILGUARD_MEMBER_ROLE_NAME: 'sec-remediator',
      TRAILGUARD_EXTERNAL_ID: 'example-id',
    });
    expect(withAll.organization).toMatchObject({ memberRoleName: 'sec-remediator', externalId: 'example-id' });
  });

  it('names the variable that is missing or wrong, never half-enables the mode', () => {
    expect(() => loadConfig({ TRAILGUARD_ORG_ID: 'o-exampleorg1' })).toThrow(expect.objectContaining({ variable: 'TRAILGUARD_CENTRAL_ACCOUNT_ID' }));
    expect(() => loadConfig({ TRAILGUARD_ORG_ID: 'org-1', TRAILGUARD_CENTRAL_ACCOUNT_ID: '111122223333' })).toThrow(
      expect.objectContaining({ variable: 'TRAILGUARD_ORG_ID', problem: expect.stringContaining('organization id') }),
    );
    expect(() => parseConfig({ organization: { organizationId: 'o-exampleorg1', centralAccountId: '111122223333', memberRole: 'x' } })).toThrow(ConfigError);
  });
});
