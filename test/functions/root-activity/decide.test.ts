import { describe, expect, it } from 'vitest';
import { rootActivity } from '../../../functions/root-activity/rule.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, withDetail } from '../../helpers/samples.js';

describe('root-activity', () => {
  it('tells a call with a root access key from one in a console session', async () => {
    const { record: key } = await runSample(rootActivity, 'alerted.api-call-with-root-access-key');
    const { record: console } = await runSample(rootActivity, 'alerted.console-call-put-bucket-versioning');
    expect(key).toMatchObject({ severity: 'HIGH', reason: expect.stringContaining('long-term ROOT ACCESS KEY') });
    expect(console).toMatchObject({ severity: 'HIGH', reason: expect.stringContaining('in a console or temporary session') });
    expect(JSON.stringify(key)).not.toContain('AKIAEXAMPLEROOTKEY01');
  });

  it('is CRITICAL when root creates an access key, and keeps the new key id out', async () => {
    const { record, deps } = await runSample(rootActivity, 'alerted.create-access-key-console');
    expect(record).toMatchObject({ severity: 'CRITICAL', reason: expect.stringContaining('created an access key') });
    expect(deps.published[0]?.text).toContain('Check next: delete root access keys');
    expect(deps.published[0]?.json).not.toContain('AKIAEXAMPLENEWROOT01');
  });

  it('says whose key it is when root creates one for an IAM user, not "unlimited rights"', async () => {
    const { record, deps } = await runSample(rootActivity, 'alerted.create-access-key-for-iam-user');
    expect(record).toMatchObject({
      severity: 'CRITICAL',
      reason: expect.stringContaining('created an access key for the IAM user deploy-bot'),
      resources: [{ type: 'AWS::IAM::RootUser' }, { type: 'AWS::IAM::User', id: 'deploy-bot' }],
    });
    expect(record.reason).not.toContain('unlimited rights');
    expect(deps.published[0]?.subject).toContain('CreateAccessKey for IAM user deploy-bot');
    expect(deps.published[0]?.text).toContain("aws iam list-access-keys --user-name 'deploy-bot'");
    expect(deps.published[0]?.text).not.toContain('delete root access keys');
    expect(deps.published[0]?.json).not.toContain('AKIAEXAMPLENEWUSER01');
    // Root's own key (requestParameters null) keeps the root wording.
    const { record: own } = await runSample(rootActivity, 'alerted.create-access-key-console');
    expect(own.reason).toContain('long-lived credentials with unlimited rights');
  });

  it('alerts on root\'s read-only calls (readOnly: true) like any other: the rule\'s state delivers them', async () => {
    const { record } = await runSample(rootActivity, 'alerted.console-read-only-list-users');
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', reason: expect.stringContaining('called iam.amazonaws.com ListUsers in a console or temporary session') });
  });

  it('says whether a root sign-in used MFA, and when MFAUsed is missing', async () => {
    const { record: without } = await runSample(rootActivity, 'alerted.console-sign-in-without-mfa');
    const missing = withDetail(loadSample('root-activity', 'alerted.console-sign-in-with-mfa'), { additionalEventData: { MobileVersion: 'No' } });
    expect(without.reason).toContain('WITHOUT MFA');
    expect((await run(rootActivity, missing, capturingDeps())).reason).toContain('MFA use not recorded (no MFAUsed)');
  });

  it('leaves calls AWS services make on root\'s behalf (invokedBy) out, but not the console acting for root', async () => {
    const { record } = await runSample(rootActivity, 'alerted.console-call-put-bucket-versioning');
    const { record: service } = await runSample(rootActivity, 'compliant.service-call-on-behalf-of-root');
    expect(record.outcome).toBe('alerted');
    expect(service).toMatchObject({ outcome: 'compliant', reason: expect.stringContaining('support.amazonaws.com on the root user\'s behalf') });
  });

  it('alerts on failed root calls too, naming the error', async () => {
    const { record } = await runSample(rootActivity, 'alerted.failed-call-access-denied');
    expect(record).toMatchObject({ outcome: 'alerted', reason: expect.stringContaining('attempted organizations.amazonaws.com LeaveOrganization (failed: AccessDeniedException)') });
  });

  it('gives no key advice when root\'s CreateAccessKey failed (an SCP denied it): no key was made', async () => {
    const denied = { errorCode: 'AccessDenied', errorMessage: 'denied by an SCP', responseElements: null };
    for (const sample of ['alerted.create-access-key-console', 'alerted.create-access-key-for-iam-user']) {
      const deps = capturingDeps();
      const record = await run(rootActivity, withDetail(loadSample('root-activity', sample), denied), deps);
      expect(record).toMatchObject({ outcome: 'alerted', errorCode: 'AccessDenied', reason: expect.stringContaining('failed: AccessDenied') });
      expect(deps.published[0]?.text).toContain('ask the root credential holder');
      expect(deps.published[0]?.text).not.toContain('delete root access keys');
      expect(deps.published[0]?.text).not.toContain('update-access-key');
    }
  });
});
