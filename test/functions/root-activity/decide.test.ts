import { describe, expect, it } from 'vitest';
import { FINDINGS, rootActivity } from '../../../functions/root-activity/rule.js';
import { run } from '../../../shared/runner/run.js';
import { record as recordOf } from '../../helpers/records.js';
import { capturingDeps, loadSample, runSample, withDetail } from '../../helpers/samples.js';

type Finding = (typeof FINDINGS)[number];

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

  it("alerts on root's read-only calls (readOnly: true) like any other: the rule's state delivers them", async () => {
    const { record } = await runSample(rootActivity, 'alerted.console-read-only-list-users');
    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'HIGH',
      reason: expect.stringContaining('called iam.amazonaws.com ListUsers in a console or temporary session'),
    });
  });

  it('says whether a root sign-in used MFA, and when MFAUsed is missing', async () => {
    const { record: without } = await runSample(rootActivity, 'alerted.console-sign-in-without-mfa');
    const missing = withDetail(loadSample('root-activity', 'alerted.console-sign-in-with-mfa'), { additionalEventData: { MobileVersion: 'No' } });
    expect(without.reason).toContain('WITHOUT MFA');
    expect((await run(rootActivity, missing, capturingDeps())).reason).toContain('MFA use not recorded (no MFAUsed)');
  });

  it("leaves calls AWS services make on root's behalf (invokedBy) out, but not the console acting for root", async () => {
    const { record } = await runSample(rootActivity, 'alerted.console-call-put-bucket-versioning');
    const { record: service } = await runSample(rootActivity, 'compliant.service-call-on-behalf-of-root');
    expect(record.outcome).toBe('alerted');
    expect(service).toMatchObject({ outcome: 'compliant', reason: expect.stringContaining("support.amazonaws.com on the root user's behalf") });
  });

  it('alerts on failed root calls too, naming the error', async () => {
    const { record } = await runSample(rootActivity, 'alerted.failed-call-access-denied');
    expect(record).toMatchObject({
      outcome: 'alerted',
      reason: expect.stringContaining('attempted organizations.amazonaws.com LeaveOrganization (failed: AccessDeniedException)'),
    });
  });

  it("gives no key advice when root's CreateAccessKey failed (an SCP denied it): no key was made", async () => {
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

describe('root-activity findings', () => {
  const sample = (name: string) => loadSample('root-activity', name);
  // Root's CreateAccessKey for an IAM user, signed with root's own long-term access key instead of a console session.
  const userKeyWithRootKey = withDetail(sample('alerted.create-access-key-for-iam-user'), {
    userIdentity: {
      type: 'Root',
      principalId: '111122223333',
      arn: 'arn:aws:iam::111122223333:root',
      accountId: '111122223333',
      accessKeyId: 'AKIAEXAMPLEROOTKEY01',
    },
  });
  const KINDS: readonly (readonly [Finding, string, unknown])[] = [
    ['root-sign-in', 'a sign-in with MFA', sample('alerted.console-sign-in-with-mfa')],
    ['root-sign-in-without-mfa', 'a sign-in without MFA', sample('alerted.console-sign-in-without-mfa')],
    [
      'root-sign-in-mfa-unrecorded',
      'a sign-in without MFAUsed',
      withDetail(sample('alerted.console-sign-in-with-mfa'), { additionalEventData: { MobileVersion: 'No' } }),
    ],
    ['root-sign-in-failed', 'a failed sign-in', sample('alerted.console-sign-in-failure')],
    ['root-access-key-created', "root's own CreateAccessKey", sample('alerted.create-access-key-console')],
    ['user-access-key-created-by-root', 'a key for an IAM user, in a session', sample('alerted.create-access-key-for-iam-user')],
    ['user-access-key-created-with-root-access-key', 'a key for an IAM user, with a root access key', userKeyWithRootKey],
    ['root-access-key-used', 'a call with a root access key', sample('alerted.api-call-with-root-access-key')],
    ['root-call', 'a console call', sample('alerted.console-call-put-bucket-versioning')],
    ['root-call', 'a read-only console call', sample('alerted.console-read-only-list-users')],
    ['root-call-failed', 'a failed call', sample('alerted.failed-call-access-denied')],
  ];

  it('has an event for every finding code', () => {
    expect(new Set(KINDS.map(([finding]) => finding))).toEqual(new Set(FINDINGS));
  });

  it.each(KINDS)('sets %s on the record for %s', async (finding, _what, event) => {
    const record = await run(rootActivity, event, capturingDeps());
    expect(record).toMatchObject({ outcome: 'alerted', finding });
  });

  it('advises deleting root keys when a root access key made a key for an IAM user', async () => {
    const deps = capturingDeps();
    await run(rootActivity, userKeyWithRootKey, deps);
    expect(deps.published[0]?.text).toContain('Check next: delete root access keys');
    expect(deps.published[0]?.text).toContain("aws iam list-access-keys --user-name 'deploy-bot'");
  });

  it('advises by the finding, not the reason', () => {
    const alerted = (finding: string, reason: string) =>
      rootActivity
        .message(
          recordOf({
            rule: 'root-activity',
            outcome: 'alerted',
            eventName: 'PutBucketVersioning',
            eventSource: 's3.amazonaws.com',
            resources: [{ type: 'AWS::IAM::RootUser', id: '111122223333' }],
            finding,
            reason,
          }),
        )
        .lines.join('\n');
    // Every word the old checks looked for, in the reason of a plain console call: no key or MFA advice.
    const plain = alerted('root-call', 'the root user called s3 PutBucketVersioning: not an ACCESS KEY, not WITHOUT MFA, not FAILED');
    expect(plain).not.toContain('delete root access keys');
    expect(plain).not.toContain('make sure root has MFA');
    expect(alerted('root-access-key-used', 'a call')).toContain('delete root access keys');
    expect(alerted('root-sign-in-without-mfa', 'a sign-in')).toContain('make sure root has MFA');
    expect(alerted('root-sign-in-failed', 'a sign-in')).toContain('make sure root has MFA');
    expect(alerted('root-sign-in-mfa-unrecorded', 'a sign-in WITHOUT MFA')).not.toContain('make sure root has MFA');
  });
});
