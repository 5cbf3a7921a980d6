import { describe, expect, it } from 'vitest';
import { consoleSigninWithoutMfa, FINDINGS } from '../../../functions/console-signin-without-mfa/rule.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, withDetail } from '../../helpers/samples.js';

describe('console-signin-without-mfa', () => {
  it('alerts MEDIUM on an IAM user without MFA, and lets an exemption hold for a named user', async () => {
    const { record } = await runSample(consoleSigninWithoutMfa, 'alerted.iam-user-without-mfa');
    expect(record).toMatchObject({
      severity: 'MEDIUM',
      resources: [{ type: 'AWS::IAM::User', id: 'alice' }],
      reason: 'IAM user alice signed in to the console WITHOUT MFA',
    });
    const config = capturingDeps().config;
    const { record: exempt } = await runSample(consoleSigninWithoutMfa, 'alerted.iam-user-without-mfa', {
      config: { ...config, exemptions: [{ rule: 'console-signin-without-mfa', resource: 'alice', reason: 'kiosk account, network-restricted (SEC-9)' }] },
    });
    expect(exempt.outcome).toBe('exempt');
  });

  it('handles a missing MFAUsed explicitly: LOW, saying MFA use cannot be confirmed', async () => {
    const { record } = await runSample(consoleSigninWithoutMfa, 'alerted.iam-user-mfa-used-missing');
    expect(record).toMatchObject({ severity: 'LOW', reason: expect.stringContaining('cannot be confirmed: the record has no MFAUsed') });
    const odd = withDetail(loadSample('console-signin-without-mfa', 'alerted.iam-user-mfa-used-missing'), { additionalEventData: { MFAUsed: 'Maybe' } });
    expect((await run(consoleSigninWithoutMfa, odd, capturingDeps())).reason).toContain('MFAUsed "Maybe"');
  });

  it('excludes federated (SSO) sign-ins and says so in the record', async () => {
    const { record, deps } = await runSample(consoleSigninWithoutMfa, 'ignored.federated-sso-sign-in');
    expect(record).toMatchObject({
      outcome: 'ignored',
      reason: expect.stringContaining('a federated sign-in (arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_AdministratorAccess'),
    });
    expect(deps.published).toEqual([]);
  });
});

describe('console-signin-without-mfa findings', () => {
  it('sets sign-in-without-mfa and sign-in-mfa-unconfirmed, one per kind of alert', async () => {
    const { record: without } = await runSample(consoleSigninWithoutMfa, 'alerted.iam-user-without-mfa');
    const { record: missing } = await runSample(consoleSigninWithoutMfa, 'alerted.iam-user-mfa-used-missing');
    const { record: withMfa } = await runSample(consoleSigninWithoutMfa, 'compliant.iam-user-with-mfa');
    expect(without).toMatchObject({ outcome: 'alerted', finding: 'sign-in-without-mfa' });
    expect(missing).toMatchObject({ outcome: 'alerted', finding: 'sign-in-mfa-unconfirmed' });
    expect(withMfa).toMatchObject({ outcome: 'compliant', finding: null });
    expect([without.finding, missing.finding].sort()).toEqual([...FINDINGS].sort());
  });
});
