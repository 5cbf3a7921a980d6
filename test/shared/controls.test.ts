import { describe, expect, it } from 'vitest';
import { RULES } from '../../functions/rules.js';
import { CONTROLS, controlsOf, controlText } from '../../shared/controls.js';

describe('Security Hub controls named by the rules', () => {
  it("maps a finding to its controls, and anything else to the rule's others", () => {
    const declared = { byFinding: { 'key-disabled': ['CloudWatch.7'] }, other: ['KMS.3', 'CloudWatch.7'] } as const;

    expect(controlsOf(declared, 'key-disabled').map((c) => c.id)).toEqual(['CloudWatch.7']);
    expect(controlsOf(declared, 'key-deletion-scheduled').map((c) => c.id)).toEqual(['KMS.3', 'CloudWatch.7']);
    expect(controlsOf(declared, null).map((c) => c.id)).toEqual(['KMS.3', 'CloudWatch.7']);
    expect(controlsOf(undefined, 'key-disabled')).toEqual([]);
  });

  it('says the CIS recommendation with its benchmark version, and none where Security Hub maps none', () => {
    expect(controlText({ id: 'EC2.53', ...CONTROLS['EC2.53'] })).toBe(
      'EC2.53 EC2 security groups should not allow ingress from 0.0.0.0/0 to remote server administration ports (CIS v5.0.0 5.3)',
    );
    expect(controlText({ id: 'KMS.3', ...CONTROLS['KMS.3'] })).toBe('KMS.3 AWS KMS keys should not be deleted unintentionally');
  });

  it.each(RULES.filter((rule) => rule.controls?.byFinding).map((rule) => [rule.id, rule] as const))(
    '%s declares controls only for finding codes its decisions carry',
    (_id, rule) => {
      const findings = (rule as { findings?: readonly string[] }).findings;
      const keys = Object.keys(rule.controls?.byFinding ?? {});

      expect(keys.length).toBeGreaterThan(0);
      if (findings) expect(findings).toEqual(expect.arrayContaining(keys));
    },
  );

  it('names a control for every rule but untagged-instance, s3-bucket-deleted, config-store-change, organization-left and the three issue-19 alerts (user data, AMI deregistered, federation token), which no Security Hub control matches', () => {
    expect(RULES.filter((rule) => !rule.controls).map((rule) => rule.id)).toEqual([
      'untagged-instance',
      'console-access-added',
      'serial-console-enabled',
      'outside-role-trust',
      'trail-bucket-lifecycle',
      's3-bucket-deleted',
      'config-store-change',
      'organization-left',
      'instance-user-data-changed',
      'image-deregistered',
      'federation-token-issued',
      'secrets-bulk-read',
      'parameters-bulk-decrypt',
      'iam-enumerated-by-instance',
      'instance-credentials-outside',
      'denied-calls-burst',
      'instance-user-data-read',
      'remote-session-spread',
      'lambda-backdoor',
      'trust-anchor-created',
      'notebook-lifecycle-attached',
      'model-access-enabled',
      'ses-enumeration',
      'bedrock-first-use',
    ]);
  });
});
