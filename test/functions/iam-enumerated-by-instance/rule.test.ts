import { describe, expect, it } from 'vitest';
import { iamEnumeratedByInstance } from '../../../functions/iam-enumerated-by-instance/rule.js';
import { matchesPattern } from '../../../shared/events/pattern.js';
import { toEnvelopeJson } from '../../../shared/events/schema.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, expectedOutcome, loadSample, sampleNames } from '../../helpers/samples.js';

const RULE = 'iam-enumerated-by-instance';

describe('iam-enumerated-by-instance', () => {
  it.each(sampleNames(RULE))('decides the sample %s as its name says', async (name) => {
    const record = await run(iamEnumeratedByInstance, loadSample(RULE, name), capturingDeps());
    expect(record.outcome).toBe(expectedOutcome(name));
  });

  it('alerts HIGH on EC2-delivered credentials, naming the role and the instance, with the revoke command never run', async () => {
    const deps = capturingDeps({ mode: 'live' });
    const record = await run(iamEnumeratedByInstance, loadSample(RULE, 'alerted.authorization-details-from-instance'), deps);
    expect(record).toMatchObject({
      severity: 'HIGH',
      finding: 'iam-enumerated-by-instance',
      resources: [{ type: 'AWS::IAM::Role', id: 'arn:aws:iam::111122223333:role/example-web' }],
      actions: [],
    });
    expect(record.reason).toContain('credentials EC2 delivered to i-0abc123def4567890');
    const text = deps.published[0]?.text ?? '';
    expect(text).toContain("aws iam put-role-policy --role-name 'example-web' --policy-name 'AWSRevokeOlderSessions'");
    expect(text).toContain('"aws:TokenIssueTime":"2026-11-25T11:58:00Z"');
  });

  it('says when only the session name points to an instance', async () => {
    const record = await run(iamEnumeratedByInstance, loadSample(RULE, 'alerted.list-roles-session-named-like-instance'), capturingDeps());
    expect(record.reason).toContain('the record does not show EC2 delivered these credentials');
  });

  it('alerts on a denied attempt too: the probe is the signal', async () => {
    const record = await run(iamEnumeratedByInstance, loadSample(RULE, 'alerted.list-users-denied-from-instance'), capturingDeps());
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'iam-enumeration-denied-from-instance' });
    expect(record.reason).toContain('AccessDenied');
  });

  it('is invoked only for instance-like sessions: an IAM user or an ordinary role session never reaches it', () => {
    const user = toEnvelopeJson(loadSample(RULE, 'ignored.list-users-by-iam-user'));
    expect(matchesPattern(iamEnumeratedByInstance.pattern, user)).toBe(false);
    const ordinary = structuredClone(loadSample(RULE, 'alerted.list-roles-session-named-like-instance')) as { userIdentity: { principalId: string } };
    ordinary.userIdentity.principalId = 'AROAEXAMPLEWEBROLE01:deploy-42';
    expect(matchesPattern(iamEnumeratedByInstance.pattern, toEnvelopeJson(ordinary))).toBe(false);
  });
});
