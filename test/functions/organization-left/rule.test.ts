import { describe, expect, it } from 'vitest';
import { FINDINGS, organizationLeft } from '../../../functions/organization-left/rule.js';
import { matchesPattern } from '../../../shared/events/pattern.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const RULE = 'organization-left';
const LEFT = loadSample(RULE, 'alerted.leave-organization');
const REMOVED = loadSample(RULE, 'alerted.remove-account-from-organization');

async function runEvent(event: unknown, config = sampleConfig()) {
  const deps = capturingDeps({ config });
  return { record: await run(organizationLeft, event, deps), deps };
}

describe('organization-left findings', () => {
  const KINDS = [
    ['account-left-organization', 'CRITICAL', 'alerted.leave-organization'],
    ['organization-exit-failed', 'HIGH', 'alerted.leave-organization-denied-by-scp'],
    ['organization-exit-failed', 'HIGH', 'alerted.leave-organization-not-standalone'],
    ['account-removed-from-organization', 'CRITICAL', 'alerted.remove-account-from-organization'],
    ['organization-exit-failed', 'HIGH', 'alerted.remove-account-not-standalone'],
  ] as const;

  it('has a sample for every finding code', () => {
    expect(new Set(KINDS.map(([finding]) => finding))).toEqual(new Set(FINDINGS));
  });

  it.each(KINDS)('sets %s, %s, on the record of %s', async (finding, severity, name) => {
    const { record } = await runSample(organizationLeft, name);
    expect(record).toMatchObject({ outcome: 'alerted', severity, finding, actions: [] });
  });
});

describe('LeaveOrganization', () => {
  it('is CRITICAL when it succeeded, about the account that left (the caller’s own)', async () => {
    const { record, deps } = await runSample(organizationLeft, 'alerted.leave-organization');
    expect(record.resources).toEqual([{ type: 'AWS::Organizations::Account', id: '444455556666' }]);
    expect(deps.published[0]?.subject).toContain('[CRITICAL] Account left the organisation: 444455556666');
    expect(deps.published[0]?.text).toContain("aws organizations describe-account --account-id '444455556666' --region 'us-east-1'");
  });

  it('sees the attempt: a denied or failed call is HIGH with the error, where other rules ignore failed calls', async () => {
    for (const [name, code] of [
      ['alerted.leave-organization-denied-by-scp', 'AccessDenied'],
      ['alerted.leave-organization-not-standalone', 'ConstraintViolationException'],
    ] as const) {
      const { record, deps } = await runSample(organizationLeft, name);
      expect(record, name).toMatchObject({ outcome: 'alerted', severity: 'HIGH', errorCode: code, resources: [{ id: '444455556666' }] });
      expect(record.reason).toContain(`failed (${code})`);
      const text = deps.published[0]?.text ?? '';
      // The account's own SCPs, its parents' (a deny-leave SCP usually sits on an OU or the root) and the root's.
      expect(text).toContain("list-policies-for-target --target-id '444455556666' --filter 'SERVICE_CONTROL_POLICY'");
      expect(text).toContain("aws organizations list-parents --child-id '444455556666' --region 'us-east-1'");
      expect(text).toContain("list-policies-for-target --target-id <parent-id> --filter 'SERVICE_CONTROL_POLICY'");
      expect(text).toContain("aws organizations list-roots --region 'us-east-1'");
      expect(deps.published[0]?.subject).toContain('Failed attempt to leave the organisation: 444455556666');
    }
  });

  it('leaves the behaviour of another rule matching the same failed call as it was (a root attempt: root-activity still tells it as root use)', async () => {
    const { rootActivity } = await import('../../../functions/root-activity/rule.js');
    const rootAttempt = withDetail(LEFT, {
      errorCode: 'AccessDenied',
      errorMessage: 'explicit deny in a service control policy',
      userIdentity: {
        type: 'Root',
        principalId: '444455556666',
        arn: 'arn:aws:iam::444455556666:root',
        accountId: '444455556666',
        accessKeyId: 'ASIAEXAMPLEROOT00001',
      },
    });
    expect(matchesPattern(rootActivity.pattern, rootAttempt)).toBe(true);
    const root = await run(rootActivity, rootAttempt, capturingDeps({ config: sampleConfig() }));
    expect(root).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'root-call-failed', errorCode: 'AccessDenied' });
    const own = await runEvent(rootAttempt);
    expect(own.record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'organization-exit-failed' });
  });

  it('escapes control characters of an error code an event carries', async () => {
    const { record } = await runEvent(withDetail(LEFT, { errorCode: 'AccessDenied\u001b[2J', errorMessage: 'x' }));
    expect(record.outcome).toBe('alerted');
    expect(record.reason).not.toContain('\u001b');
  });

  it('is exempt for an exempted account (a sandbox that is meant to leave)', async () => {
    const config = sampleConfig({
      exemptions: [{ rule: RULE, resource: '444455556666', reason: 'sandbox handed to a customer (ticket OPS-7)', expires: '2099-12-31' }],
    });
    const { record, deps } = await runEvent(LEFT, config);
    expect(record.outcome).toBe('exempt');
    expect(deps.published).toEqual([]);
  });

  it('tells an attempt of an exempted account all the same: the exemption covers its leaving, an attempt is the signal', async () => {
    const config = sampleConfig({
      exemptions: [{ rule: RULE, resource: '444455556666', reason: 'sandbox handed to a customer (ticket OPS-7)', expires: '2099-12-31' }],
    });
    const { record, deps } = await runEvent(withDetail(LEFT, { errorCode: 'AccessDenied', errorMessage: 'explicit deny' }), config);
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'organization-exit-failed', exemptions: [] });
    expect(deps.published).toHaveLength(1);
  });
});

describe('RemoveAccountFromOrganization', () => {
  it('is CRITICAL about the named account (its effect is that of leaving), with the command to invite it back', async () => {
    const { record, deps } = await runSample(organizationLeft, 'alerted.remove-account-from-organization');
    expect(record).toMatchObject({ severity: 'CRITICAL', finding: 'account-removed-from-organization' });
    expect(record.resources).toEqual([{ type: 'AWS::Organizations::Account', id: '444455556666' }]);
    expect(deps.published[0]?.subject).toContain('[CRITICAL] Account removed from the organisation: 444455556666');
    expect(deps.published[0]?.text).toContain("--target 'Id=444455556666,Type=ACCOUNT'");
  });

  it('tells every failed removal HIGH, denied or not, and only one naming no member (AccountNotFoundException) compliant', async () => {
    for (const code of [
      'AccessDeniedException',
      'ConstraintViolationException',
      'AccountOwnerNotVerifiedException',
      'TooManyRequestsException',
      'ServiceException',
    ]) {
      const { record } = await runEvent(withDetail(REMOVED, { errorCode: code, errorMessage: 'no' }));
      expect(record, code).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'organization-exit-failed', resources: [{ id: '444455556666' }] });
      expect(record.reason).toContain(`failed (${code})`);
    }
    const missing = await runSample(organizationLeft, 'compliant.remove-account-not-found');
    expect(missing.record).toMatchObject({ outcome: 'compliant', reason: expect.stringContaining('AccountNotFoundException') });
    expect(missing.deps.published).toEqual([]);
  });

  it('points a failed removal at the IAM policies of the management account, not at SCPs (which never apply there)', async () => {
    const { record, deps } = await runSample(organizationLeft, 'alerted.remove-account-not-standalone');
    expect(record).toMatchObject({ outcome: 'alerted', errorCode: 'ConstraintViolationException' });
    const text = deps.published[0]?.text ?? '';
    expect(deps.published[0]?.subject).toContain('Failed removal from the organisation: 444455556666');
    expect(text).toContain('IAM policies in the management account (SCPs never apply there)');
    expect(text).toContain("aws organizations describe-account --account-id '444455556666' --region 'us-east-1'");
    expect(text).not.toContain('list-policies-for-target');
  });

  it('ends failed, naming the field, when the account id is not one; a failed call with such an id names no resource', async () => {
    const bad = await runEvent(withDetail(REMOVED, { requestParameters: { accountId: "4444';id" } }));
    expect(bad.record).toMatchObject({ outcome: 'failed', reason: expect.stringContaining('detail.requestParameters.accountId') });
    const denied = await runEvent(withDetail(REMOVED, { requestParameters: { accountId: "4444';id" }, errorCode: 'AccessDenied' }));
    expect(denied.record).toMatchObject({ outcome: 'alerted', resources: [] });
    expect(denied.deps.published[0]?.text).toContain('no command: the event names no account id');
    expect(denied.deps.published[0]?.text).not.toContain("4444';id");
  });
});

it('matches only the two calls, from organizations.amazonaws.com', () => {
  expect(matchesPattern(organizationLeft.pattern, LEFT)).toBe(true);
  const other = withDetail(LEFT, { eventName: 'DescribeOrganization' });
  expect(matchesPattern(organizationLeft.pattern, other)).toBe(false);
});

it('reads the account id a CloudTrail Lake row gives back as a number (its map keeps no types), and no number but a 12-digit one', async () => {
  const { record } = await runEvent(withDetail(REMOVED, { requestParameters: { accountId: 444455556666 } }));
  expect(record).toMatchObject({ outcome: 'alerted', resources: [{ type: 'AWS::Organizations::Account', id: '444455556666' }] });
  // An id with a leading zero stays text in a Lake row (cli/backtest-sql.ts): a shorter number is no account id.
  const short = await runEvent(withDetail(REMOVED, { requestParameters: { accountId: 12345678901 } }));
  expect(short.record).toMatchObject({ outcome: 'failed', reason: expect.stringContaining('detail.requestParameters.accountId') });
  const text = await runEvent(withDetail(REMOVED, { requestParameters: { accountId: '012345678901' } }));
  expect(text.record).toMatchObject({ outcome: 'alerted', resources: [{ id: '012345678901' }] });
});

it('ignores a read of the organisation by the same principal (the pattern leaves it out)', async () => {
  const { record } = await runSample(organizationLeft, 'ignored.describe-organization');
  expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('does not match the organization-left pattern') });
});
