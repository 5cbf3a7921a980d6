import { describe, expect, it } from 'vitest';
import { iamPolicyChange } from '../../../functions/iam-policy-change/rule.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, withDetail } from '../../helpers/samples.js';

// The service-linked role sample (AWSServiceRoleForSSO writing an inline policy), with its identity swapped.
const LINKED = loadSample('iam-policy-change', 'ignored.service-linked-role-put-role-policy');

function asRole(roleArn: string | undefined, roleName: string): unknown {
  return withDetail(LINKED, {
    userIdentity: {
      type: 'AssumedRole',
      arn: `arn:aws:sts::111122223333:assumed-role/${roleName}/session`,
      accountId: '111122223333',
      sessionContext: { sessionIssuer: { type: 'Role', userName: roleName, ...(roleArn ? { arn: roleArn } : {}) } },
    },
  });
}

describe('routine service-linked roles (ignoreServiceLinkedRoles)', () => {
  it('alerts on a look-alike role named AWSServiceRoleFor… outside the reserved /aws-service-role/ path', async () => {
    const deps = capturingDeps();
    const record = await run(iamPolicyChange, asRole('arn:aws:iam::111122223333:role/AWSServiceRoleForFake', 'AWSServiceRoleForFake'), deps);
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'CRITICAL', actor: expect.stringContaining('AWSServiceRoleForFake') });
    expect(record.reason).not.toContain('routine call');
    expect(deps.published).toHaveLength(1);
  });

  it('still ignores the real service-linked role, whose ARN has the /aws-service-role/ path', async () => {
    const record = await run(iamPolicyChange, LINKED, capturingDeps());
    expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('routine call by the service-linked role AWSServiceRoleForSSO') });
  });

  it('falls back to the name only when the record carries no role ARN', async () => {
    const record = await run(iamPolicyChange, asRole(undefined, 'AWSServiceRoleForSSO'), capturingDeps());
    expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('service-linked role AWSServiceRoleForSSO') });
  });
});
