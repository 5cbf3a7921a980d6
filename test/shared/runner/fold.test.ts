import { describe, expect, it } from 'vitest';
import { iamPolicyChange, rootCoverage } from '../../../functions/iam-policy-change/rule.js';
import { rootActivity } from '../../../functions/root-activity/rule.js';
import { parseEnvelope, toEnvelopeJson } from '../../../shared/events/schema.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import type { AnyRule, Coverage, Severity } from '../../../shared/rule.js';
import { foldOf } from '../../../shared/runner/notify.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, sampleConfig, sampleNames, withDetail } from '../../helpers/samples.js';

// One event, two rules, two Lambdas invoked separately: each run here gets its own deps, as each Lambda would.
async function pagesOf(event: unknown, rules: readonly AnyRule[], config = sampleConfig()) {
  const runs = [];
  for (const rule of rules) {
    const deps = capturingDeps({ config });
    const record = await run(rule, event, deps);
    runs.push({ rule: rule.id, record, published: deps.published });
  }
  return runs;
}

const ROOT = {
  type: 'Root',
  principalId: '111122223333',
  arn: 'arn:aws:iam::111122223333:root',
  accountId: '111122223333',
  invokedBy: 'signin.amazonaws.com',
};
const asRoot = (event: unknown) => withDetail(event, { userIdentity: ROOT, sourceIPAddress: '198.51.100.20' });
const rootCreateAccessKey = loadSample('root-activity', 'alerted.create-access-key-console');

describe('one page per event: an alert another rule pages at least as high is folded into that page', () => {
  it('pages a root CreateAccessKey once, CRITICAL, whichever Lambda runs first', async () => {
    for (const order of [
      [rootActivity, iamPolicyChange],
      [iamPolicyChange, rootActivity],
    ]) {
      const runs = await pagesOf(rootCreateAccessKey, order);
      const root = runs.find((r) => r.rule === 'root-activity');
      const iam = runs.find((r) => r.rule === 'iam-policy-change');

      expect(runs.flatMap((r) => r.published).map((n) => n.attributes)).toEqual([
        { rule: 'root-activity', severity: 'CRITICAL', outcome: 'alerted', account: '111122223333' },
      ]);
      expect(root?.record.notification).toMatchObject({ status: 'sent' });
      // The folded finding keeps its own record, outcome and severity: the report still counts it.
      expect(iam?.record).toMatchObject({
        outcome: 'alerted',
        severity: 'MEDIUM',
        finding: 'access-key-created',
        notification: { status: 'folded', into: 'root-activity', severity: 'CRITICAL' },
      });
    }
  });

  it("says on the root page that the IAM change alert's finding is folded into it", async () => {
    const [root] = await pagesOf(rootCreateAccessKey, [rootActivity]);

    const [reads] = await pagesOf(loadSample('root-activity', 'alerted.console-read-only-list-users'), [rootActivity]);

    expect(root?.published[0]?.text).toContain("the IAM change alert's record of the same event id, if that rule is on: its finding is folded into this page");
    expect(reads?.published[0]?.text).not.toContain('IAM change alert');
    expect(reads?.published[0]?.text).toContain('Check next: ask the root credential holder');
  });

  it('folds a root CreateAccessKey for an IAM user the same way', async () => {
    const runs = await pagesOf(loadSample('root-activity', 'alerted.create-access-key-for-iam-user'), [rootActivity, iamPolicyChange]);

    expect(runs.map((r) => [r.rule, r.record.notification.status])).toEqual([
      ['root-activity', 'sent'],
      ['iam-policy-change', 'folded'],
    ]);
    expect(runs.flatMap((r) => r.published)).toHaveLength(1);
  });

  it('pages a MEDIUM root policy change on its own: the HIGH root page may be held back by the burst digest', async () => {
    // A busy root session (every root call, reads included, is a HIGH root-activity page) fills root-activity's digest
    // window; a change folded into a page that was then held back would reach nobody.
    const runs = await pagesOf(asRoot(loadSample('iam-policy-change', 'alerted.detach-role-policy')), [rootActivity, iamPolicyChange]);

    expect(runs.map((r) => [r.rule, r.record.severity, r.record.notification.status])).toEqual([
      ['root-activity', 'HIGH', 'sent'],
      ['iam-policy-change', 'MEDIUM', 'sent'],
    ]);
    expect(runs[0]?.published[0]?.text).not.toContain('folded');
  });

  it('folds only into a page the digest never holds back (CRITICAL), whatever the covering rule declares', () => {
    const record = { outcome: 'alerted', severity: 'MEDIUM' } as RemediationRecord;
    const deps = { config: sampleConfig(), now: () => Date.parse('2026-12-07T00:00:00Z') };
    const coverage = (severity: Severity): Coverage => ({ rule: 'root-activity', severity, resources: [] });

    expect(foldOf(record, coverage('HIGH'), deps)).toBeUndefined();
    expect(foldOf(record, coverage('CRITICAL'), deps)).toMatchObject({ status: 'folded', into: 'root-activity' });
    expect(foldOf({ ...record, severity: 'CRITICAL' }, coverage('CRITICAL'), deps)).toMatchObject({ status: 'folded' });
  });

  it('pages both for root attaching AdministratorAccess: the CRITICAL escalation is never folded into the HIGH root page', async () => {
    // root-activity rates every root call HIGH (it does not read policies); iam-policy-change rates this CRITICAL. A
    // fold may not lower a page, and root-activity cannot know iam-policy-change's rating, so each pages: two pages.
    const runs = await pagesOf(asRoot(loadSample('iam-policy-change', 'alerted.attach-user-policy-administrator-access')), [rootActivity, iamPolicyChange]);

    expect(runs.map((r) => [r.rule, r.record.severity, r.record.notification.status])).toEqual([
      ['root-activity', 'HIGH', 'sent'],
      ['iam-policy-change', 'CRITICAL', 'sent'],
    ]);
    expect(runs[1]?.record.finding).toBe('privilege-escalation');
  });

  it('pages a CreateAccessKey by an IAM user as before: root-activity does not see it', async () => {
    const runs = await pagesOf(loadSample('iam-policy-change', 'alerted.create-access-key-for-other-user'), [rootActivity, iamPolicyChange]);

    expect(runs.map((r) => [r.rule, r.record.outcome, r.record.notification.status])).toEqual([
      ['root-activity', 'ignored', 'not-needed'],
      ['iam-policy-change', 'alerted', 'sent'],
    ]);
  });

  it('pages the IAM change alone when root-activity is disabled', async () => {
    const config = sampleConfig({ rules: { 'root-activity': { enabled: false } } });
    const runs = await pagesOf(rootCreateAccessKey, [rootActivity, iamPolicyChange], config);

    expect(runs.map((r) => [r.rule, r.record.notification.status])).toEqual([
      ['root-activity', 'not-needed'],
      ['iam-policy-change', 'sent'],
    ]);
    expect(runs.flatMap((r) => r.published).map((n) => n.attributes)).toEqual([
      { rule: 'iam-policy-change', severity: 'MEDIUM', outcome: 'alerted', account: '111122223333' },
    ]);
  });

  it('pages the IAM change when an exemption keeps root-activity silent on the account', async () => {
    const config = sampleConfig({ exemptions: [{ rule: 'root-activity', resource: '111122223333', reason: 'break-glass drill (ticket SEC-9)' }] });
    const runs = await pagesOf(rootCreateAccessKey, [rootActivity, iamPolicyChange], config);

    expect(runs.map((r) => [r.rule, r.record.outcome, r.record.notification.status])).toEqual([
      ['root-activity', 'exempt', 'not-needed'],
      ['iam-policy-change', 'alerted', 'sent'],
    ]);
  });

  it("pages the IAM change when an AWS service acted on root's behalf (root-activity finds that compliant)", async () => {
    const bySupport = withDetail(rootCreateAccessKey, { userIdentity: { ...ROOT, invokedBy: 'support.amazonaws.com' } });
    const runs = await pagesOf(bySupport, [rootActivity, iamPolicyChange]);

    expect(runs.map((r) => [r.rule, r.record.outcome, r.record.notification.status])).toEqual([
      ['root-activity', 'compliant', 'not-needed'],
      ['iam-policy-change', 'alerted', 'sent'],
    ]);
  });
});

describe('the coverage iam-policy-change declares for root calls', () => {
  const contextOf = (event: unknown) => {
    const parsed = parseEnvelope(toEnvelopeJson(event));
    return { event: parsed, record: parsed.detail };
  };

  // The declaration restates root-activity's rating from the record: it must agree with root-activity on every sample.
  it.each(sampleNames('root-activity'))('agrees with what root-activity decides for %s', async (name) => {
    const event = loadSample('root-activity', name);
    const record = await run(rootActivity, event, capturingDeps());
    const coverage = (() => {
      try {
        return rootCoverage(contextOf(event));
      } catch {
        return undefined;
      }
    })();

    // Declared only where root-activity pages CRITICAL (root's CreateAccessKey), a page the digest never holds back. A
    // failed call pages at HIGH too, but iam-policy-change ignores failed calls: nothing to fold there.
    const pagesCritical = record.outcome === 'alerted' && record.errorCode === null && record.severity === 'CRITICAL';
    expect(coverage?.severity).toBe(pagesCritical ? 'CRITICAL' : undefined);
    if (record.eventName === 'CreateAccessKey' && record.errorCode === null && record.outcome === 'alerted') expect(coverage?.severity).toBe('CRITICAL');
  });
});
